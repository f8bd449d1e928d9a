"""Generated questions from a few everyday topics (test and benchmark data; never shipped).

Each topic combines templates, subjects and details, so one topic yields a few hundred distinct questions
that MiniLM places near each other, and different topics far apart.
"""

from __future__ import annotations

import itertools
import random

TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "cooking": (
        [
            "How long should I cook {s} {d}?",
            "What is a good recipe for {s} {d}?",
            "Which spices go well with {s} {d}?",
            "How do I keep {s} from burning {d}?",
        ],
        [
            "chicken thighs",
            "salmon fillets",
            "basmati rice",
            "sourdough bread",
            "lentil soup",
            "pork chops",
            "roast potatoes",
            "tomato sauce",
            "beef stew",
            "chocolate cake",
        ],
        [
            "in the oven",
            "on a gas stove",
            "for a dinner party",
            "in a cast iron pan",
            "for meal prep",
            "without a thermometer",
        ],
    ),
    "programming": (
        [
            "How do I {s} in Python {d}?",
            "Why does my code fail when I {s} {d}?",
            "What is the fastest way to {s} {d}?",
            "Can you show an example of how to {s} {d}?",
        ],
        [
            "sort a list of dictionaries",
            "read a CSV file",
            "parse JSON",
            "write unit tests",
            "handle exceptions",
            "use async functions",
            "profile slow code",
            "merge two dataframes",
            "call a REST API",
            "define a dataclass",
        ],
        [
            "with pandas",
            "in a script",
            "with the standard library",
            "on Windows",
            "in a Django project",
            "using type hints",
        ],
    ),
    "travel": (
        [
            "What should I pack for {s} {d}?",
            "Is it safe to visit {s} {d}?",
            "How many days do I need for {s} {d}?",
            "What are cheap ways to get to {s} {d}?",
        ],
        [
            "Lisbon",
            "Kyoto",
            "Iceland",
            "the Scottish Highlands",
            "Patagonia",
            "Morocco",
            "New York",
            "the Amalfi coast",
            "Vietnam",
            "the Alps",
        ],
        ["in winter", "with small children", "on a tight budget", "by train", "for a honeymoon", "as a solo traveller"],
    ),
    "finance": (
        [
            "Should I {s} {d}?",
            "How much money should I {s} {d}?",
            "What are the risks if I {s} {d}?",
            "What is the smartest way to {s} {d}?",
        ],
        [
            "pay off my mortgage early",
            "invest in index funds",
            "open a retirement account",
            "buy bonds",
            "build an emergency fund",
            "refinance my student loans",
            "save for a house deposit",
            "pay off credit card debt",
            "start a budget",
            "buy company shares",
        ],
        [
            "in my thirties",
            "with a low income",
            "during a recession",
            "before having kids",
            "as a freelancer",
            "when interest rates are high",
        ],
    ),
    "gardening": (
        [
            "When should I plant {s} {d}?",
            "How often do I water {s} {d}?",
            "Why are my {s} dying {d}?",
            "What fertiliser is best for {s} {d}?",
        ],
        [
            "tomatoes",
            "roses",
            "basil",
            "strawberries",
            "apple trees",
            "lavender",
            "potatoes",
            "tulip bulbs",
            "cucumbers",
            "hydrangeas",
        ],
        ["in clay soil", "on a balcony", "in a greenhouse", "in a dry summer", "in raised beds", "in partial shade"],
    ),
    "astronomy": (
        [
            "How can I see {s} {d}?",
            "Why does {s} look different {d}?",
            "What telescope do I need for {s} {d}?",
            "When is the best time to photograph {s} {d}?",
        ],
        [
            "Saturn's rings",
            "the Andromeda galaxy",
            "a lunar eclipse",
            "the Orion nebula",
            "Jupiter's moons",
            "the Milky Way",
            "a meteor shower",
            "the International Space Station",
            "Mars",
            "the northern lights",
        ],
        [
            "from a city",
            "with binoculars",
            "in the southern hemisphere",
            "tonight",
            "with a phone camera",
            "from a dark sky site",
        ],
    ),
}


def questions(topic: str) -> list[str]:
    """Every distinct question of a topic, in a fixed shuffled order."""
    templates, subjects, details = TOPICS[topic]
    out = [t.format(s=s, d=d) for t, s, d in itertools.product(templates, subjects, details)]
    random.Random(topic).shuffle(out)
    return out


def mixture(weights: dict[str, float], n: int, rng: random.Random) -> list[tuple[str, str]]:
    """n (topic, question) pairs drawn with these topic weights (questions without replacement per topic)."""
    topics = list(weights)
    pools = {t: questions(t) for t in topics}
    picks = rng.choices(topics, weights=[weights[t] for t in topics], k=n)
    used: dict[str, int] = dict.fromkeys(topics, 0)
    out = []
    for t in picks:
        pool = pools[t]
        out.append((t, pool[(used[t] + rng.randrange(len(pool))) % len(pool)]))
        used[t] += 1
    return out
