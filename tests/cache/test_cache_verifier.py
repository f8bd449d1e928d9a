"""The pair verifier behind the guards, its generated near misses and its paired data (real MiniLM, real ONNX)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from edgeprompt.backends.base import GenerationParams, Message
from edgeprompt.cache import Cache, build_query, gate, pairset, perturb, verifier
from edgeprompt.cache.threshold import effective, shipped, verifier_floor, verifier_point


def q(text: str) -> Any:
    return build_query(text, "m/echo@abc", "v1", [Message("system", "S"), Message("user", text)], GenerationParams())


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("direction", "Convert 5 kilometers to miles", "Convert 5 miles to kilometers"),
        ("direction", "What is 65 mph in km/h?", "What is 65 km/h in mph?"),
        ("terms", "What is the area of a circle with a radius of 4 cm?", None),
        ("units", "How many grams in 3 ounces?", None),
        ("numbers", "Is 91 a prime number?", None),
        ("negation", "Can dogs eat grapes?", "Can't dogs eat grapes?"),
        ("roles", "Did Arsenal beat Chelsea?", None),
    ],
)
def test_each_rewrite_asks_something_else(kind: str, text: str, expected: str | None) -> None:
    new = perturb.REWRITES[kind](text, random.Random(0))
    assert new is not None and new != text
    if expected is not None:
        assert new == expected
    # the content gate catches what it can see; the kinds it cannot (roles among lower-case words) are the verifier's
    if kind in ("direction", "terms", "units", "numbers", "negation"):
        assert not gate.passes(text, new), (text, new)


def test_rewrites_that_do_not_apply_say_so() -> None:
    assert perturb.swap_direction("Why is the sky blue?", random.Random(0)) is None
    assert perturb.change_number("Why is the sky blue?", random.Random(0)) is None


def test_groups_split_whole_and_stable() -> None:
    groups = pairset.groups("# comment\nA one\nA two\n\nB one\nB two\nB three\n\nlonely\n")
    assert groups == [["A one", "A two"], ["B one", "B two", "B three"]]
    shipped_groups = pairset.groups()
    assert len(shipped_groups) >= 80
    sides = {pairset.split_of(g) for g in shipped_groups}
    assert sides == set(pairset.SPLITS)
    first = "Convert 5 kilometers to miles"
    assert pairset.split_of([first]) == pairset.split_of([first, "x"])  # the first line alone decides


def test_pairs_keep_each_group_on_one_side() -> None:
    groups = pairset.groups()[:12]
    fake = lambda texts: np.eye(len(texts), 8, dtype=np.float32)  # noqa: E731 - the neighbour search only needs vectors
    pairs = pairset.build(groups, fake)
    side_of = {line: pairset.split_of(g) for g in groups for line in g}
    assert all(p.split == side_of[p.q1] for p in pairs if p.q1 in side_of)
    assert {p.kind for p in pairs if p.duplicate} == {"paraphrase", "light"}
    assert {"direction", "negation", "neighbour"} <= {p.kind for p in pairs if not p.duplicate}


def test_features_are_symmetric_in_the_vectors() -> None:
    rng = np.random.default_rng(0)
    u, v = (x / np.linalg.norm(x) for x in rng.normal(size=(2, 384)).astype(np.float32))
    f = verifier.features(u, v, "How do I renew my passport?", "How can I renew my passport?")
    assert f.shape == (verifier.width(),)
    g = verifier.features(v, u, "How do I renew my passport?", "How can I renew my passport?")
    assert np.allclose(f, g)


@pytest.fixture
def judged(rt: Any) -> Cache:
    """A cache whose threshold is low enough that only the guards and the shipped verifier decide."""
    s = {**rt.settings.section("cache"), "verifier": True}
    cache = Cache(
        rt.db,
        s,
        rt.embedder,
        0.5,
        rt.paths.cache / "answers",
        verifier=lambda: verifier.shipped(verifier_point().threshold),
    )
    return cache


@pytest.fixture
def shipped_cache(rt: Any) -> Cache:
    """The cache as the runtime builds it: the verifier on, the calibrated cosine floor."""
    s = {**rt.settings.section("cache"), "verifier": True, "semantic_threshold": -1.0}
    return Cache(
        rt.db,
        s,
        rt.embedder,
        effective(-1.0, with_verifier=True),
        rt.paths.cache / "answers",
        verifier=lambda: verifier.shipped(verifier_point().threshold),
    )


def test_shipped_verifier_loads_and_is_int8(judged: Cache) -> None:
    v = judged.verifier()
    assert v is not None and v.meta["features"] == verifier.FEATURES and v.meta["int8"] is True
    assert 0.0 < v.min_probability < 1.0
    # both operating points were picked on calib: the verifier's floor sits at or below the guards-only one
    assert 0.5 <= verifier_floor() <= shipped().threshold <= 1.0
    assert effective(-1.0, with_verifier=True) == verifier_floor() and effective(-1.0) == shipped().threshold


def test_verifier_vetoes_what_the_gate_lets_through(judged: Cache) -> None:
    judged.store(q("How do I delete my Instagram account?"), "Settings > Account > Delete.")
    found = judged.lookup(q("How do I deactivate my Instagram account?"))
    assert not found.hit
    assert all(g["pass"] for k, g in found.guards.items() if k not in ("verifier", "threshold"))
    assert found.guards["verifier"]["pass"] is False


def test_verifier_serves_a_plain_rewording(judged: Cache) -> None:
    judged.store(q("How do I renew my passport?"), "At the passport office.")
    found = judged.lookup(q("Can you tell me: how do I renew my passport?"))
    assert (found.hit, found.level) == (True, "semantic")
    assert found.guards["verifier"]["pass"] is True


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Area of a circle with a diameter of 3 cm", "Area of a circle with a radius of 3 cm"),
        ("Convert 5 miles to kilometers", "Convert 5 kilometers to miles"),
        ("What is 65 km/h in mph?", "What is 65 mph in km/h?"),
    ],
)
def test_the_reported_wrong_answers_are_not_served(judged: Cache, stored: str, asked: str) -> None:
    judged.store(q(stored), "an answer")
    found = judged.lookup(q(asked))
    assert not found.hit and found.cached_question == stored


@pytest.mark.parametrize(
    ("kind", "stored", "asked"),
    [
        ("entity", "What is the hiring process at Universal?", "What is the hiring process at Universal Electronics?"),
        ("entity", "What is the capital of Austria?", "What is the capital of Australia?"),
        ("number", "How many calories are in 2 eggs?", "How many calories are in 3 eggs?"),
        ("unit", "How many grams are in 3 ounces?", "How many grams are in 3 pounds?"),
        ("negation", "Can I take ibuprofen with food?", "Can I take ibuprofen without food?"),
        ("negation", "Is it safe to eat raw eggs?", "Is it not safe to eat raw eggs?"),
        ("direction", "Convert 100 euros to dollars", "Convert 100 dollars to euros"),
        ("direction", "How long is the flight from Paris to Rome?", "How long is the flight from Rome to Paris?"),
        ("time", "What is the weather in Oslo today?", "What is the weather in Oslo tomorrow?"),
        ("time", "What happened in the news last week?", "What happened in the news last month?"),
        ("terms", "How many teaspoons are in a cup?", "How many tablespoons are in a cup?"),
        ("terms", "What is 20 degrees Celsius in Kelvin?", "What is 20 degrees Fahrenheit in Kelvin?"),
        ("roles", "Did Arsenal beat Chelsea last season?", "Did Chelsea beat Arsenal last season?"),
    ],
)
def test_each_near_miss_kind_is_not_served(shipped_cache: Cache, kind: str, stored: str, asked: str) -> None:
    shipped_cache.store(q(stored), "an answer")
    found = shipped_cache.lookup(q(asked))
    assert not found.hit, (kind, found.guards)


def test_the_runtime_uses_the_verifiers_floor(rt: Any) -> None:
    """With the verifier on (the default) the cache's threshold is the floor picked with it on calib."""
    assert rt.cache().threshold == verifier_floor()
