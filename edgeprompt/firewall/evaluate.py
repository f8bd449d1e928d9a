"""Measuring stage 1: the dev-set split, the metrics, and the naive keyword baseline.

The split is 70/30, deterministic and grouped: a BIPIA document and its injected twin share a
`pair_id` and always land on the same side, so the test side never holds a twin of a training row.
Used by `scripts/train_firewall` (train on the 70 %), `scripts/bench_firewall` and the dataset test
(measure on the 30 %).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLIT_SEED = "edgeprompt-firewall-split-1"
TRAIN_SHARE = 0.70
DIRECT_ATTACKS = ("tensor_trust_hijacking", "tensor_trust_extraction")
USER_BENIGN = ("acp_roleplay_prompt", "bipia_instruction_as_direct_request")
# The 10-phrase keyword list that the issue calls the naive baseline.
KEYWORDS = (
    "ignore previous instructions",
    "ignore all previous",
    "disregard previous",
    "system prompt",
    "jailbreak",
    "developer mode",
    "do anything now",
    "you are now",
    "forget your instructions",
    "reveal your prompt",
)


def default_devset() -> Path:
    return Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "injection" / "dev.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def side(row: dict[str, Any]) -> str:
    """ "train" or "test" for a dev-set row, by a hash of its group key."""
    key = str(row.get("pair_id") or row["id"])
    frac = int(hashlib.sha256(f"{SPLIT_SEED}:{key}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if frac < TRAIN_SHARE else "test"


def split(rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for r in rows:
        (train if side(r) == "train" else test).append(r)
    return train, test


def context_of(row: dict[str, Any]) -> str:
    """A row's own `context` (user, document, tool) where it has one; else BIPIA documents are retrieved text
    and everything else is the user's own turn."""
    if row.get("context") in ("user", "document", "tool"):
        return str(row["context"])
    return "document" if str(row.get("subset", "")).startswith(("bipia_injected", "bipia_clean")) else "user"


def keyword_baseline(text: str) -> bool:
    low = " ".join(text.lower().split())
    return any(k in low for k in KEYWORDS)


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"rate": round(self.value, 4), "hits": self.hits, "n": self.total}


def rate(rows: list[dict[str, Any]], flagged: Callable[[dict[str, Any]], bool]) -> Rate:
    return Rate(sum(1 for r in rows if flagged(r)), len(rows))


def report(
    rows: list[dict[str, Any]],
    flagged: Callable[[dict[str, Any]], bool],
    hard_negatives: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The Done-when figures for one detector: `flagged(row)` is True when it flags or blocks."""

    def sub(names: tuple[str, ...]) -> list[dict[str, Any]]:
        return [r for r in rows if r.get("subset") in names]

    out = {
        "direct_attack_recall": rate(sub(DIRECT_ATTACKS), flagged).as_dict(),
        "hijacking_recall": rate(sub(("tensor_trust_hijacking",)), flagged).as_dict(),
        "extraction_recall": rate(sub(("tensor_trust_extraction",)), flagged).as_dict(),
        "benign_fpr": rate(sub(USER_BENIGN), flagged).as_dict(),
        "roleplay_flag_rate": rate(sub(("acp_roleplay_prompt",)), flagged).as_dict(),
        "direct_request_flag_rate": rate(sub(("bipia_instruction_as_direct_request",)), flagged).as_dict(),
        "bipia_injected_recall": rate(
            [r for r in rows if str(r.get("subset")).startswith("bipia_injected")], flagged
        ).as_dict(),
        "bipia_clean_fpr": rate([r for r in rows if str(r.get("subset")).startswith("bipia_clean")], flagged).as_dict(),
    }
    for kind in ("email", "table", "code"):
        out[f"bipia_injected_{kind}_recall"] = rate(sub((f"bipia_injected_{kind}",)), flagged).as_dict()
    if hard_negatives is not None:
        out["own_hard_negative_flag_rate"] = rate(hard_negatives, flagged).as_dict()
        roleplay = sub(("acp_roleplay_prompt",))
        out["hard_negative_flag_rate"] = rate(roleplay + hard_negatives, flagged).as_dict()
    return out
