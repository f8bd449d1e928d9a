"""Topic clusters over real pipeline traces: planted topics come back whole, named by their words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from obs_helpers import ask
from obs_synth import TOPICS, questions

from edgeprompt.app import Runtime
from edgeprompt.observatory import topics, traceset
from edgeprompt.observatory.report import build_report, one_thread
from edgeprompt.store.feedback import FeedbackStore

PLANTED = ("cooking", "programming", "travel")


def _vocabulary(topic: str) -> set[str]:
    from edgeprompt.observatory.signals import keywords

    templates, subjects, details = TOPICS[topic]
    return {w for text in (*templates, *subjects, *details) for w in keywords(text.format(s="", d=""), 99)}


def _plant(rt: Any) -> dict[str, str]:
    planted = {}
    for t in PLANTED:
        for q in questions(t)[:12]:
            planted[ask(rt, q).trace_id] = t
    return planted


@pytest.mark.slow  # clusters a few hundred embedded questions for every k
def test_automatic_k_finds_five_planted_topics(embedder: Any) -> None:
    names = ("cooking", "programming", "travel", "finance", "gardening")
    vecs = embedder.embed_batch([q for t in names for q in questions(t)[:30]])
    with one_thread():
        c = topics.cluster(vecs, k=0, max_k=8)
    assert c.k == 5 and c.silhouette is not None
    labels = c.labels.reshape(5, 30)
    assert all(len(set(row)) == 1 for row in labels.tolist()) and len({row[0] for row in labels.tolist()}) == 5


def test_topics_recover_planted_topics_with_volume_quality_and_labels(data_home: Path) -> None:
    data_home.mkdir(parents=True, exist_ok=True)
    (data_home / "config.toml").write_text("[observatory]\ntopics = 3\n", encoding="utf-8")
    rt = Runtime.open(data_home)
    planted = _plant(rt)
    fb = FeedbackStore(rt.db)
    for tid, t in planted.items():
        if t == "cooking":
            fb.thumbs(tid, True)
        elif t == "travel":
            fb.thumbs(tid, False)
    section = rt.settings.section("observatory")
    rep = build_report(rt.db, section, 0.0)
    assert rep["topic_clustering"]["k"] == 3 and len(rep["topics"]) == 3
    assert sorted(t["requests"] for t in rep["topics"]) == [12, 12, 12]
    assert [t["id"] for t in rep["topics"]] == [1, 2, 3]
    assert all(t["share"] == round(12 / 36, 4) for t in rep["topics"])

    ts = traceset.load(rt.db, 0.0, 1e12)
    _, topic_of = topics.assign(ts, section, lambda r: False)
    by_label: dict[str, set[str]] = {}
    for r in ts.records:
        by_label.setdefault(topic_of(r), set()).add(planted[r.id])
    assert all(len(members) == 1 for members in by_label.values()), by_label  # every cluster is one topic
    for t in rep["topics"]:
        (which,) = by_label[t["label"]]
        assert set(t["terms"]) <= _vocabulary(which) and len(t["terms"]) == 3, (which, t["terms"])
        assert t["label"] == " · ".join(t["terms"])
        up_rate = {"cooking": 1.0, "travel": 0.0, "programming": None}[which]
        assert (t["up_rate"], t["failed"]) == (up_rate, 12 if which == "travel" else 0)
        assert set(t["examples"]) <= {tid for tid, p in planted.items() if p == which}
    by_topic = {g["key"]: (g["up"], g["down"]) for g in rep["feedback"]["by_topic"]}
    assert sorted(by_topic.values()) == [(0, 0), (0, 12), (12, 0)]
    rt.close()


def test_without_keywords_topics_are_numbered(data_home: Path) -> None:
    data_home.mkdir(parents=True, exist_ok=True)
    (data_home / "config.toml").write_text("[observatory]\nkeywords = false\ntopics = 2\n", encoding="utf-8")
    with Runtime.open(data_home) as rt:
        for t in ("cooking", "travel"):
            for q in questions(t)[:11]:
                ask(rt, q)
        rep = build_report(rt.db, rt.settings.section("observatory"), 0.0)
        assert rt.db.query_one("SELECT count(*) FROM obs_signals WHERE terms != '[]'")[0] == 0
    assert [t["label"] for t in rep["topics"]] == ["topic 1", "topic 2"]
    assert [t["requests"] for t in rep["topics"]] == [11, 11]
    assert any("numbered rather than named" in n for n in rep["notes"])
