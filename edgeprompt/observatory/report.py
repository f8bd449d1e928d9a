"""The observatory report: every signal over one time range, as one JSON-ready dict.

`build_report(db, settings, since)` is the single entry point; the CLI prints it (`--json`), summarises it
as text, or renders it as a self-contained HTML page (`observatory.html`).
"""

from __future__ import annotations

import contextlib
import datetime
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import UsageError
from edgeprompt.observatory import confidence, drift, failures, metrics, topics, traceset
from edgeprompt.observatory.energy import source_of_machine

if TYPE_CHECKING:
    from edgeprompt.store.db import Database

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|h|d|w)$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SINCE_HELP = "a duration back from now (30m, 12h, 7d, 2w), a date (2024-05-01 or 2024-05-01T09:30) or 'all'"


def parse_since(text: str, now: float | None = None) -> float:
    """The start of the report's range as a Unix time."""
    now = time.time() if now is None else now
    t = text.strip().lower()
    if t == "all":
        return 0.0
    if (m := _SPAN.match(t)) is not None:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise UsageError(f"bad --since '{text}': use {SINCE_HELP}") from None


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """The matrices here are small; multi-threaded BLAS and OpenMP on a busy laptop spin instead of working
    (measured on 2 loaded cores: a drift test 0.1 s → 2-6 s, topic clustering 1.8 s → 28 s), so use one.
    threadpoolctl limits only libraries already loaded, so scikit-learn (and its BLAS, OpenMP) loads first."""
    import sklearn.cluster
    import sklearn.linear_model
    import sklearn.model_selection  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _notes(ts: traceset.TraceSet, section: Mapping[str, Any]) -> list[str]:
    notes: list[str] = []
    n = len(ts)
    embedded = len(ts.question_rows)
    if n and embedded < n:
        why = (
            "[observatory] signals is off"
            if str(section["signals"]).lower() == "off"
            else "MiniLM was not set up in this data home yet; the cache or `docs add` sets it up, "
            "or set [observatory] signals = on"
        )
        notes.append(
            f"{n - embedded} of {n} requests have no question embedding ({why}); topics and drift use the others."
        )
    if n and not any(r.terms for r in ts.records):
        notes.append("No keywords are stored, so topics are numbered rather than named.")
    if any(r.get("edgeprompt.energy.source") == "estimate" for r in ts.records):
        notes.append(
            f"Energy is an estimate: CPU time × {section['watts_per_core']} W per busy core "
            "(no RAPL counter is readable on this machine)."
        )
    return notes


def _uses_sklearn(ts: traceset.TraceSet, th: drift.DriftThresholds) -> bool:
    """Topics cluster from MIN_QUESTIONS question vectors; drift compares two windows of `min_samples` each.
    With fewer, neither runs scikit-learn, so `one_thread` need not load it (2 s of a small report)."""
    q, a = len(ts.question_rows), len(ts.answer_rows)
    return q >= topics.MIN_QUESTIONS or max(q, a) >= 2 * th.min_samples


def build_report(db: Database, section: Mapping[str, Any], since: float, until: float | None = None) -> dict[str, Any]:
    """`section` is the `[observatory]` settings section."""
    until = time.time() + 1.0 if until is None else until
    ts = traceset.load(db, since, until)
    threshold = float(section["low_confidence_logprob"])
    found = failures.categorised(ts, threshold)

    def failed(r: traceset.TraceRecord) -> bool:
        return bool(found[ts.by_id[r.id]])

    th = drift.DriftThresholds.from_settings(section)
    with one_thread() if _uses_sklearn(ts, th) else contextlib.nullcontext():
        topics_block, topic_of = topics.assign(ts, section, failed)
        drift_block = drift.drift(ts, th)
    feedback = metrics.feedback(ts, topic_of if topics_block["topics"] else None)
    return {
        "generated_at": round(time.time(), 3),
        "since": round(since, 3),
        "until": round(until, 3),
        "requests": len(ts),
        "status": metrics.status_counts(ts),
        "daily": metrics.daily(ts),
        "timeline": metrics.timeline(ts),
        "feedback": feedback,
        "latency_ms": metrics.latency(ts),
        "tokens": metrics.tokens(ts),
        "cache": metrics.cache(ts),
        "firewall": metrics.firewall(ts),
        "prompt_length": metrics.prompt_length(ts),
        "models": metrics.models(ts),
        "confidence": confidence.confidence(ts, threshold, topic_of if topics_block["topics"] else None),
        "topics": topics_block["topics"],
        "topic_clustering": {k: v for k, v in topics_block.items() if k != "topics"},
        "failures": failures.failures(ts, found),
        "answers_with_problems": failures.with_any(found),
        "drift": drift_block,
        "energy": {"source": source_of_machine(), "watts_per_core": float(section["watts_per_core"])},
        "notes": _notes(ts, section),
    }


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"


def first_token(ttft: Mapping[str, Any]) -> str:
    """The first-token median, or n/a when no answer was written by a model (fixed texts have no first token)."""
    return "n/a (no model-written answers)" if ttft["p50"] is None else _ms(ttft["p50"])


def summary_text(rep: Mapping[str, Any]) -> str:
    """A few plain lines for the terminal."""
    fb, lat = rep["feedback"], rep["latency_ms"]
    lines = [
        f"{rep['requests']} requests since {time.strftime('%Y-%m-%d %H:%M', time.localtime(rep['since']))}",
        f"feedback: {fb['up']} up, {fb['down']} down"
        + (f" ({fb['up_rate']:.0%} helpful)" if fb["up_rate"] is not None else ""),
        f"latency: median {_ms(lat['total']['p50'])}, p95 {_ms(lat['total']['p95'])}; "
        f"first token median {first_token(lat['ttft'])}",
    ]
    fails = [f"{k.replace('_', ' ')} {v['count']}" for k, v in rep["failures"].items() if v["count"]]
    lines.append("failures: " + (", ".join(fails) if fails else "none"))
    if rep["topics"]:
        lines.append("topics: " + "; ".join(f"{t['label']} ({t['requests']})" for t in rep["topics"][:5]))
    alarms = rep["drift"]["questions"]["alarms"] + rep["drift"]["answers"]["alarms"]
    state = drift.verdict(rep["drift"])
    lines.append(
        "drift: "
        + (
            f"ALARM in {', '.join(sorted(set(alarms)))}"
            if state == "changed"
            else "no change against the reference window"
            if state == "steady"
            else f"not enough data ({rep['drift']['questions']['status']})"
        )
    )
    lines.extend(f"note: {n}" for n in rep["notes"])
    return "\n".join(lines)
