"""The router's phrasing sources and its held-out phrasings: well formed, balanced, and never mixed."""

from __future__ import annotations

from pathlib import Path

from edgeprompt.routing.evaluation import load_set
from edgeprompt.routing.rules import TAGS

ROUTER = Path(__file__).resolve().parents[2] / "edgeprompt" / "shipped" / "router"


def test_every_phrasing_source_covers_every_route() -> None:
    sources = sorted((ROUTER / "phrasings").glob("*.jsonl"))
    assert len(sources) >= 6
    for f in sources + sorted((ROUTER / "phrasings_candidates").glob("*.jsonl")):
        rows = load_set(f)
        assert {r["source"] for r in rows} == {f.stem}
        assert {r["label"] for r in rows} == set(TAGS)


def test_held_out_phrasings_are_not_training_rows() -> None:
    written = [*(ROUTER / "phrasings").glob("*.jsonl"), *(ROUTER / "phrasings_candidates").glob("*.jsonl")]
    train = {r["text"].lower() for f in written for r in load_set(f)}
    train |= {r["text"].lower() for r in load_set(ROUTER / "routing_set.jsonl")}
    for name in (
        "heldout_phrasings.jsonl",
        "heldout_phrasings_2.jsonl",
        "heldout_phrasings_3.jsonl",
        "heldout_phrasings_4.jsonl",
        "heldout_phrasings_5.jsonl",
    ):
        held = load_set(ROUTER / name)
        assert {r["label"] for r in held} == set(TAGS)
        assert not {r["text"].lower() for r in held} & train
