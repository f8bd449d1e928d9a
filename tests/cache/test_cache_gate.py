"""The content gate alone: each kind of difference vetoes, paraphrases pass (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeprompt.cache import gate

NEAR_MISSES = Path(__file__).parent / "data" / "near_misses.jsonl"


def vetoed_by(a: str, b: str) -> set[str]:
    return {k for k, c in gate.compare(a, b).items() if not c.passed}


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("What is the rent for a 2 bedroom flat?", "What is the rent for a 3 bedroom flat?", "numbers"),
        ("Can I take two ibuprofen?", "Can I take three ibuprofen?", "numbers"),
        ("What is the tax on 50,000?", "What is the tax on 60,000?", "numbers"),
        ("What meetings do I have on Monday?", "What meetings do I have on Tuesday?", "dates"),
        ("What did I spend in January?", "What did I spend in February?", "dates"),
        ("What are my tasks for this week?", "What are my tasks for next week?", "dates"),
        ("Convert 30 degrees Celsius", "Convert 30 degrees Fahrenheit", "units"),
        ("How far is 10 miles in metres?", "How far is 10 km in metres?", "units"),
        ("What is the capital of Australia?", "What is the capital of Austria?", "entities"),
        ("Did Alice pay Bob back?", "Did Bob pay Alice back?", "entities"),
        ("How competitive is hiring at Universal?", "How competitive is hiring at Universal Electronics?", "entities"),
        ("Which foods are safe for dogs?", "Which foods are not safe for dogs?", "negation"),
        ("What happens if I sign the contract?", "What happens if I don't sign the contract?", "negation"),
        ("How do I make bread with yeast?", "How do I make bread without yeast?", "negation"),
        ("When does my lease end?", "When does my sister's lease end?", "persons"),
        ("What is my name?", "What is your name?", "persons"),
        ("What is his phone number?", "What is her phone number?", "persons"),
        ("Convert 5 kilometers to miles", "Convert 5 miles to kilometers", "order"),
        ("65 mph in km/h", "65 km/h in mph", "order"),
        ("Is a dog smarter than a cat?", "Is a cat smarter than a dog?", "order"),
        ("Did Arsenal beat Chelsea in the final?", "Did Chelsea beat Arsenal in the final?", "order"),
        ("How do I translate English into French?", "How do I translate French into English?", "order"),
        ("What is 12 divided by 4?", "What is 4 divided by 12?", "order"),
        ("Area of a circle with a radius of 3 cm", "Area of a circle with a diameter of 3 cm", "terms"),
        ("How much is a teaspoon of salt in grams?", "How much is a tablespoon of salt in grams?", "terms"),
        ("What is 30 degrees Celsius in Kelvin?", "What is 30 degrees Fahrenheit in Kelvin?", "terms"),
        ("Area of a square with sides of 4 m?", "Perimeter of a square with sides of 4 m?", "terms"),
        ("Is now a good time to buy gold?", "Is now a good time to sell gold?", "terms"),
        ("What should I eat before a workout?", "What should I eat after a workout?", "terms"),
        ("How do I find the min of a list in Python?", "How do I find the max of a list in Python?", "terms"),
    ],
)
def test_each_difference_vetoes(a: str, b: str, why: str) -> None:
    assert why in vetoed_by(a, b)
    assert why in vetoed_by(b, a)  # the gate is symmetric


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I renew my passport?", "How can I renew my passport?"),
        ("Who is the better batsman, Virat Kohli or Joe Root?", "Who is better: Joe Root or Virat Kohli?"),
        ("What are the opening hours of the Louvre?", "What are the Louvre's opening hours?"),
        ("How do I learn Python?", "how do i learn python"),
        ("Is 17 a prime number?", "Is seventeen a prime number?"),
        ("What is 1,000 divided by 8?", "What is 1000 divided by 8?"),
        ("How do I get rid of dead skin on my scalp?", "How do I get rid of dead skin on the scalp?"),
        ("What are the Fees of AMCAT?", "What is the Fee of AMCAT?"),
        ("How can one make a career in sports?", "How can I make a career in sports?"),
        ("Python vs Java for beginners", "Java or Python for beginners?"),
        ("How do I learn Python in 2 weeks?", "In 2 weeks, how can I learn Python?"),
        ("How many miles is 10 km?", "10 km is how many miles?"),
        ("How do I cook rice in a pressure cooker?", "Pressure cooker: how do I cook rice in it?"),
        ("What is the area of a circle of radius 2?", "Area of a circle whose radius is 2?"),
    ],
)
def test_paraphrases_pass(a: str, b: str) -> None:
    assert vetoed_by(a, b) == set()


def test_every_check_explains_itself() -> None:
    checks = gate.compare("Convert 5 miles to km", "Convert 6 miles to km")
    assert set(checks) == set(gate.GATES)
    assert checks["numbers"].as_dict() == {"pass": False, "detail": "numbers differ: [5] vs [6]"}


def test_near_miss_set_is_well_formed() -> None:
    rows = [json.loads(line) for line in NEAR_MISSES.read_text(encoding="utf-8").splitlines()]
    cats = {r["category"] for r in rows}
    assert {"numbers", "dates", "units", "entities", "negation", "persons", "paraphrase"} <= cats
    assert all(r["duplicate"] == (r["category"] == "paraphrase") for r in rows)
    negatives = [r for r in rows if not r["duplicate"]]
    assert len(negatives) >= 150
    # the gate alone already vetoes nearly all of them; the threshold catches the rest (test_semantic)
    vetoed = sum(not gate.passes(r["q1"], r["q2"]) for r in negatives)
    assert vetoed / len(negatives) >= 0.95
