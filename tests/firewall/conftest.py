"""Shared pieces for the firewall tests: the shipped scanner (real rules, real ONNX classifier)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def data_rows():  # type: ignore[no-untyped-def]
    """Our own labelled cases in tests/firewall/data/ (never used for training)."""
    return _rows


@pytest.fixture(scope="session")
def own_hard_negatives():  # type: ignore[no-untyped-def]
    """Our benign look-alikes: the first 30 hard negatives and the held-out set's benign rows."""
    return _rows("hard_negatives.jsonl") + [r for r in _rows("heldout_own.jsonl") if r["label"] == 0]


@pytest.fixture(scope="session")
def scanner():  # type: ignore[no-untyped-def]
    from edgeprompt.embed import Embedder
    from edgeprompt.firewall.classifier import Classifier
    from edgeprompt.firewall.rules import load_pack
    from edgeprompt.firewall.scanner import Scanner

    nowhere = Path("/nonexistent-edgeprompt-home/models")  # no installed pack: the shipped ones
    embed = Embedder.load(threads=2).embed_batch
    return Scanner(load_pack(nowhere), Classifier.load(nowhere, embed))
