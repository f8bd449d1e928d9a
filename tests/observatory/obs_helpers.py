"""Helpers for the observatory tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any


def ask(rt: Any, question: str, **kw: Any) -> Any:
    """One question through `edgeprompt.pipeline.run`; returns the AskResult."""
    from edgeprompt.pipeline import AskRequest, Done, run

    kw.setdefault("model", "echo")
    return next(ev.result for ev in run(AskRequest(question, **kw), rt) if isinstance(ev, Done))


def pct(xs: list[float], q: float) -> float:
    """Percentile by linear interpolation between closest ranks, written out by hand."""
    s = sorted(xs)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def move_to(rt: Any, trace_ids: list[str], start: float, step: float = 1.0) -> None:
    """Test setup: say these requests happened at `start`, `start + step`, … (e.g. on another day)."""
    with rt.db.transaction() as c:
        for i, tid in enumerate(trace_ids):
            c.execute("UPDATE traces SET started_at = ? WHERE id = ?", (start + i * step, tid))
