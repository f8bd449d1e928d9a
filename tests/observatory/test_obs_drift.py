"""Drift on real MiniLM embeddings of generated questions: a 30 % topic shift fires within one window, and
same-distribution windows false-alarm at most 5 % of the time. Seeds are fixed, so the outcome is too."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from obs_helpers import ask, move_to
from obs_synth import mixture, questions

from edgeprompt.observatory.drift import DriftThresholds, centroid_distance, two_sample
from edgeprompt.observatory.report import build_report, one_thread

pytestmark = pytest.mark.slow  # embeds 600 questions and runs many drift windows

BASE = ("cooking", "programming", "travel", "finance")
UNIFORM = dict.fromkeys(BASE, 0.25)
NEW_TOPIC = {**{t: 0.7 * 0.25 for t in BASE}, "gardening": 0.3}  # 30 % of questions about something new
REWEIGHTED = {"cooking": 0.4, "programming": 0.4, "travel": 0.1, "finance": 0.1}  # 30 % of the mass moved


@pytest.fixture(scope="module")
def pools() -> dict[str, np.ndarray]:
    from edgeprompt.embed import Embedder

    emb = Embedder.load(threads=2)
    return {t: emb.embed_batch(questions(t)[:120]) for t in (*BASE, "gardening")}


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    with one_thread():
        yield


def draw(pools: dict[str, np.ndarray], weights: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    topics = list(weights)
    picks = rng.choice(len(topics), size=n, p=np.array([weights[t] for t in topics]))
    return np.vstack([pools[topics[i]][rng.integers(len(pools[topics[i]]))] for i in picks])


def test_same_distribution_windows_rarely_alarm(pools: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(7)
    th = DriftThresholds()
    ref = draw(pools, UNIFORM, 100, rng)
    results = [two_sample(ref, draw(pools, UNIFORM, 100, rng), th, seed=i) for i in range(40)]
    alarms = sum(r.alarm for r in results)
    assert alarms <= 2, f"{alarms} false alarms in 40 same-distribution windows"
    assert 0.4 < float(np.mean([r.auc for r in results])) < 0.6


@pytest.mark.parametrize("shift", [NEW_TOPIC, REWEIGHTED], ids=["new-topic", "reweighted"])
def test_a_30_percent_topic_shift_fires_in_the_window_it_happens(
    pools: dict[str, np.ndarray], shift: dict[str, float]
) -> None:
    rng = np.random.default_rng(11)
    th = DriftThresholds()
    results = [two_sample(draw(pools, UNIFORM, 150, rng), draw(pools, shift, 150, rng), th, seed=i) for i in range(10)]
    assert sum(r.alarm for r in results) >= 9, [(round(r.auc, 3), round(r.p_value, 3)) for r in results]


def test_centroid_distance_is_one_minus_the_cosine_of_the_means() -> None:
    x = np.array([[1.0, 0.0], [1.0, 0.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert centroid_distance(x, y) == pytest.approx(1 - 1 / np.sqrt(2))


def test_report_raises_the_alarm_on_the_day_questions_shift(obs_rt: Any) -> None:
    rt = obs_rt
    rng = random.Random(3)
    days = [("ref", UNIFORM), ("shift", NEW_TOPIC), ("same", UNIFORM)]
    midnight = time.mktime((*time.localtime(time.time() - 5 * 86400)[:3], 0, 0, 0, 0, 0, -1))
    for k, (_, weights) in enumerate(days):
        ids = [ask(rt, q).trace_id for _, q in mixture(weights, 70, rng)]
        move_to(rt, ids, midnight + k * 86400 + 9 * 3600, step=60.0)  # 09:00 onwards on day k
    rep = build_report(rt.db, rt.settings.section("observatory"), midnight - 1)
    q = rep["drift"]["questions"]
    labels = [time.strftime("%Y-%m-%d", time.localtime(midnight + k * 86400 + 9 * 3600)) for k in range(3)]
    assert [w["window"] for w in q["windows"]] == labels and q["reference"] == labels[0]
    ref, shifted, same = q["windows"]
    assert ref == {"window": labels[0], "n": 70, "tested": False, "why": "reference"}
    assert shifted["alarm"] is True and shifted["auc"] > same["auc"]
    assert same["alarm"] is False and shifted["centroid_distance"] > same["centroid_distance"]
    assert q["alarms"] == [labels[1]]
    # echo answers repeat the questions, so the answers drift the same day
    assert rep["drift"]["answers"]["alarms"] == [labels[1]]
