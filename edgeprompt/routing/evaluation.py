"""The labelled routing set and router accuracy on it (`edgeprompt route eval`, scripts/train_router, tests).

The set (`edgeprompt/shipped/router/routing_set.jsonl`) was written for this project: one JSON object a line with
`text`, `label` (the tag the precedence rule gives), `also` (other tags the prompt touches; non-empty
for the ambiguous ones) and `split` (`train` or `test`, fixed: stratified by label and ambiguity,
30 % test). Accuracy is only ever reported on `test`, which training never sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import UsageError
from edgeprompt.routing.rules import TAGS

if TYPE_CHECKING:
    from edgeprompt.routing.router import Router

SET_FILE = "routing_set.jsonl"


def set_path() -> Path:
    from edgeprompt.routing.head import shipped_dir

    return shipped_dir() / SET_FILE


def load_set(path: Path | None = None, split: str | None = None) -> list[dict[str, Any]]:
    path = path or set_path()
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise UsageError(f"{path}:{n}: not JSON ({e})") from e
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or row.get("label") not in TAGS:
            raise UsageError(f"{path}:{n}: needs a string 'text' and a 'label' among {', '.join(TAGS)}")
        if split is None or row.get("split") == split:
            rows.append(row)
    return rows


@dataclass(frozen=True)
class EvalReport:
    n: int
    accuracy: float
    ambiguous_n: int
    ambiguous_accuracy: float
    confusion: dict[str, dict[str, int]]  # true tag -> predicted tag -> count
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "ambiguous_n": self.ambiguous_n,
            "ambiguous_accuracy": round(self.ambiguous_accuracy, 4),
            "confusion": self.confusion,
            "errors": self.errors,
        }

    def table(self) -> str:
        labels = list(TAGS)
        lines = ["true \\ routed " + " ".join(f"{t[:9]:>9}" for t in labels)]
        for t in labels:
            lines.append(f"{t:<14} " + " ".join(f"{self.confusion[t].get(p, 0):>9}" for p in labels))
        return "\n".join(lines)


def score(rows: Sequence[dict[str, Any]], predicted: Iterable[str]) -> EvalReport:
    confusion = {t: dict.fromkeys(TAGS, 0) for t in TAGS}
    right = amb = amb_right = 0
    errors = []
    for row, pred in zip(rows, predicted, strict=True):
        confusion[row["label"]][pred] = confusion[row["label"]].get(pred, 0) + 1
        ok = pred == row["label"]
        right += ok
        if row.get("also"):
            amb += 1
            amb_right += ok
        if not ok:
            errors.append({"text": row["text"], "label": row["label"], "routed": pred})
    n = len(rows)
    return EvalReport(n, right / n if n else 0.0, amb, amb_right / amb if amb else 0.0, confusion, errors)


def evaluate(router: Router, rows: Sequence[dict[str, Any]]) -> EvalReport:
    """Route every row's text (tags only; no model choice) in one embedding batch."""
    from edgeprompt.routing.router import router_text

    max_chars = int(router.settings.get("max_chars", 320))
    vecs = router.embed([router_text(r["text"], max_chars) for r in rows])
    return score(rows, [router.classify(r["text"], v).tag for r, v in zip(rows, vecs, strict=True)])
