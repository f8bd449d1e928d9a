"""The calibration arithmetic on small hand-made data, and the shipped threshold file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from edgeprompt.cache import calibrate
from edgeprompt.cache.threshold import effective, shipped

DATASET = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "semantic_cache" / "pairs.jsonl"


def scored(sims: list[float], gated: list[bool], labels: list[int]) -> calibrate.ScoredPairs:
    return calibrate.ScoredPairs(np.array(sims), np.array(gated), np.array(labels))


def test_precision_recall_and_false_hits_at_a_threshold() -> None:
    s = scored([0.99, 0.97, 0.95, 0.90, 0.80], [True, True, False, True, True], [1, 0, 1, 1, 0])
    r = calibrate.at(s, 0.9)
    assert (r["hits"], r["precision"], r["recall"], r["false_hit_rate"]) == (3, 0.6667, 0.6667, 0.5)
    assert calibrate.at(s, 0.9, use_gate=False)["hits"] == 4


def test_choose_takes_the_lowest_threshold_reaching_the_target() -> None:
    s = scored([0.99, 0.98, 0.97, 0.96, 0.95], [True] * 5, [1, 1, 0, 1, 0])
    assert calibrate.choose(s, 0.99, min_hits=1) == pytest.approx(0.98)
    assert calibrate.choose(s, 0.75, min_hits=1) == pytest.approx(0.96)
    assert calibrate.choose_recall(s, 1.0) == pytest.approx(0.96)


def test_verifier_point_takes_the_most_recall_at_the_target() -> None:
    s = calibrate.ScoredPairs(
        np.array([0.99, 0.98, 0.97, 0.9, 0.85, 0.6]),
        np.array([True] * 6),
        np.array([1, 0, 1, 1, 0, 1]),
        np.array([0.9, 0.2, 0.8, 0.7, 0.75, 0.95]),
    )
    assert calibrate.choose_point(s, 1.0, min_hits=1, floors=[0.5, 0.8]) == (0.5, 0.8)  # 0.95, 0.9, 0.8: 3 of 4
    assert calibrate.choose_point(s, 1.0, min_hits=1, floors=[0.8]) == (0.8, 0.8)
    assert calibrate.at(s, 0.8, min_probability=0.8)["hits"] == 2  # the probability vetoes, the cosine admits
    assert calibrate.choose_point(s, 1.0, min_hits=5) == (1.0, 1.0)  # nothing reaches it: serve nothing
    assert [p["hits"] for p in calibrate.curve(s, "verifier", points=2)] == [6, 0]


def test_auc_and_ranking_ceilings() -> None:
    labels = np.array([1, 1, 0, 0])
    assert calibrate.auc(np.array([0.9, 0.8, 0.2, 0.1]), labels) == 1.0
    assert calibrate.auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    assert calibrate.best_recall(np.array([0.9, 0.1, 0.8, 0.2]), labels, 0.95) == 0.5
    assert calibrate.precision_at_recall(np.array([0.9, 0.1, 0.8, 0.2]), labels, 0.5) == 1.0


def test_lexical_baselines_and_a_stable_split() -> None:
    pairs = [
        {"q1": "how do I bake bread", "q2": "how do I bake bread", "duplicate": 1},
        {"q1": "how do I bake bread", "q2": "where is the station", "duplicate": 0},
    ]
    lex = calibrate.lexical_scores(pairs)
    assert lex["token_jaccard"].tolist() == [1.0, 0.0]
    assert lex["tfidf_cosine"][0] == pytest.approx(1.0) and lex["tfidf_cosine"][1] == 0.0
    # the side is a hash of the two questions only: pinned here, so a change of the split shows
    assert [calibrate.side(p) for p in pairs] == ["tune", "tune"]
    moved = {"duplicate": 0, "q2": "how do I bake a cake", "q1": "how do I bake bread", "category": "other"}
    assert calibrate.side(moved) == "held-out"
    assert calibrate.side(moved, held_out_share=0.0) == "tune" and calibrate.side(pairs[0], 1.0) == "held-out"


def test_shipped_threshold_file() -> None:
    cal = shipped()
    assert 0.5 < cal.threshold < 1.0
    assert effective(-1.0) == cal.threshold and effective(0.9) == 0.9
    m = cal.measured
    assert m["near_miss_false_hit_rate"] <= 0.01 and m["held_out_pairs"] > 0
    assert 0 < m["held_out_recall"] <= 1 and 0 < m["held_out_precision"] <= 1


@pytest.mark.skipif(not DATASET.exists(), reason="the shared datasets are not here")
def test_threshold_was_calibrated_on_this_dataset() -> None:
    assert shipped().measured["dataset_sha256"] == hashlib.sha256(DATASET.read_bytes()).hexdigest()
