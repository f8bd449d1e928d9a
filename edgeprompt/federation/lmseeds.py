"""Seed data for the language-model demo and tests: questions, answers and the user's feedback on them.

Each simulated laptop gets sessions whose answers the user rated or corrected, on its own topics
(laptop 0: the kitchen and walks; laptop 1: the garden and reading). Answers follow a consistent house style
per question type, so an adapter can learn them and held-out questions show it. The feedback is
written through the real stores (sessions, traces, feedback), exactly as `ask` and `feedback` do:
- most answers get a thumbs up (the answer shown is the good one);
- some get an edit: the model's answer was poor, the user wrote the good one (a preference pair);
- a few get a thumbs down and no edit: those must not be learned.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from edgeprompt.store.db import Database

Recipe = tuple[str, str, dict[str, tuple[str, ...]]]  # (question template, answer template, fillers)

# Written with the words the demo model's small tokenizer knows (its bundled text), so the demo measures
# what the adapter learns about answers rather than how badly unknown words split into pieces.
PLANTS = (
    "the plants",
    "the flowers",
    "young trees",
    "the seeds",
    "the garden",
    "tomatoes",
    "roses",
    "the hedge",
    "small plants",
)
TOPICS = (
    "the sea",
    "mountains",
    "birds",
    "history",
    "the stars",
    "old towns",
    "trees",
    "the moon",
    "fish",
    "a long journey",
)
QA: dict[str, tuple[Recipe, ...]] = {
    "kitchen": (
        (
            "How long should I bake {food}?",
            "Bake {food} in a hot oven for forty minutes, then let it rest on the table before dinner.",
            {"food": ("bread", "the loaves", "fish", "fruit", "a small loaf", "white bread", "dark bread")},
        ),
        (
            "How do I make {drink}?",
            "For {drink}, warm the water in a kettle, pour it into a cup and wait two minutes.",
            {"drink": ("tea", "green tea", "black tea", "mint tea", "a cup of tea", "tea for two")},
        ),
        (
            "What can I use instead of {thing}?",
            "Instead of {thing}, use the same amount of fresh fruit; the taste changes a little.",
            {"thing": ("flour", "sugar", "butter", "milk", "eggs", "honey")},
        ),
    ),
    "walks": (
        (
            "Where can I walk on a {time} in {place}?",
            "On a {time} in {place}, walk along the river to the old bridge and back through the village.",
            {
                "time": ("morning", "evening", "Sunday", "rainy day", "warm day"),
                "place": ("the city", "the village", "town", "the mountains", "the valley"),
            },
        ),
        (
            "What should I take for a walk in the {where}?",
            "For a walk in the {where}, take water, a warm coat and good shoes, and check the weather first.",
            {"where": ("mountains", "forests", "hills", "valley", "fields", "snow", "rain", "cold")},
        ),
    ),
    "garden": (
        (
            "How often should I water {plant}?",
            "Water {plant} once a week in the morning, and let the soil dry between waterings.",
            {"plant": PLANTS},
        ),
        (
            "When should I plant {plant}?",
            "Plant {plant} in the spring, in a warm and bright place, with fresh soil.",
            {"plant": PLANTS},
        ),
        (
            "Why are the leaves of {plant} turning yellow?",
            "Yellow leaves on {plant} mean too much water; give less water and check the soil.",
            {"plant": PLANTS},
        ),
    ),
    "reading": (
        (
            "Can you suggest a book about {topic}?",
            "Look for a short book about {topic} in the library, and read one chapter each evening.",
            {"topic": TOPICS},
        ),
        (
            "How can I help my child read {what}?",
            "Read {what} aloud together every evening, and let the child read the last page.",
            {"what": ("more", "stories", "a longer book", "poems", "every day", "in the morning")},
        ),
        (
            "How do I write a poem about {topic}?",
            "Start a poem about {topic} with one clear picture, then write four short lines and read them aloud.",
            {"topic": TOPICS},
        ),
    ),
}

LAPTOP_TOPICS = (("kitchen", "walks"), ("garden", "reading"))
POOR = (
    "I am not sure about that.",
    "It depends on many things.",
    "Please ask someone else.",
    "That is a good question.",
)


@dataclass(frozen=True)
class SeededQA:
    question: str
    answer: str  # the good answer (what the user approved or wrote)
    feedback: str  # "up" | "edit" | "down"


def _fill(rng: random.Random, q: str, a: str, fillers: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    for key, values in fillers.items():
        value = rng.choice(values)
        q, a = q.replace("{" + key + "}", value), a.replace("{" + key + "}", value)
    return q, a[0].upper() + a[1:]


def exchanges(topics: tuple[str, ...], n: int, seed: int = 0) -> list[SeededQA]:
    """Up to `n` distinct questions on these topics, about 1 in 4 corrected by an edit, 1 in 10 thumbed down."""
    rng = random.Random(f"lm-{seed}-{topics}")
    recipes = [r for t in topics for r in QA[t]]
    seen: dict[str, str] = {}
    for _ in range(n * 30):
        if len(seen) >= n:
            break
        q, a = _fill(rng, *rng.choice(recipes))
        seen.setdefault(q, a)
    out = []
    for q, a in seen.items():
        roll = rng.random()
        out.append(SeededQA(q, a, "down" if roll < 0.1 else "edit" if roll < 0.35 else "up"))
    return out


def record(db: Database, items: list[SeededQA], model: str = "demo") -> int:
    """Write each exchange as a session turn with its trace, then the user's feedback; returns how many."""
    from edgeprompt.store.feedback import FeedbackStore
    from edgeprompt.store.sessions import SessionStore
    from edgeprompt.store.traces import Trace, TraceLog

    sessions, traces, feedback = SessionStore(db), TraceLog(db), FeedbackStore(db)
    session = sessions.create(model=model)
    for i, item in enumerate(items):
        trace = Trace(session_id=session.id, model=model)
        traces.save(trace)
        shown = item.answer if item.feedback == "up" else POOR[i % len(POOR)]
        sessions.add_exchange(session.id, item.question, shown, trace.id)
        if item.feedback == "edit":
            feedback.edit(trace.id, shown, item.answer)
        else:
            feedback.thumbs(trace.id, item.feedback == "up")
    return len(items)


def seed_lm(db: Database, client: int, n: int = 40, seed: int = 0, model: str = "demo") -> int:
    """Laptop `client`'s rated and corrected exchanges (its slice of topics)."""
    topics = LAPTOP_TOPICS[client % len(LAPTOP_TOPICS)]
    return record(db, exchanges(topics, n, seed + client // len(LAPTOP_TOPICS)), model)


def describe(client: int) -> str:
    return "topics " + ", ".join(LAPTOP_TOPICS[client % len(LAPTOP_TOPICS)])
