"""Plain metrics over a `TraceSet`: latency per stage and by hour, tokens, cache, firewall, feedback,
the prompt-length effect, and per-model speed and energy.

Percentiles are numpy's default (linear interpolation between the closest ranks). A metric over no data
is `None`, never 0. Attributes that an area has not recorded yet simply do not count.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from edgeprompt.observatory.traceset import TraceRecord, TraceSet

LENGTH_EDGES = (0, 256, 512, 1024, 2048, 4096, 8192)
NO_KEY = "(none)"


def rnd(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


def percentile(values: Sequence[float], q: float) -> float | None:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def summary(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95, mean (rounded to 3 decimals)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None}
    return {
        "n": len(values),
        "p50": rnd(percentile(values, 50)),
        "p95": rnd(percentile(values, 95)),
        "mean": rnd(sum(values) / len(values)),
    }


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def ttft(r: TraceRecord) -> float | None:
    return r.number("edgeprompt.ttft_ms")


def latency(ts: TraceSet) -> dict[str, Any]:
    stages: dict[str, list[float]] = defaultdict(list)
    hours: dict[int, list[float]] = defaultdict(list)
    for r in ts.records:
        for name, ms in r.stages.items():
            stages[name].append(ms)
        hours[time.localtime(r.started_at).tm_hour].append(r.duration_ms)
    return {
        "total": summary([r.duration_ms for r in ts.records]),
        "ttft": summary([v for r in ts.records if (v := ttft(r)) is not None]),
        "stages": {name: summary(v) for name, v in sorted(stages.items(), key=lambda kv: -sum(kv[1]))},
        "by_hour": [{"hour": h, **summary(hours.get(h, []))} for h in range(24)],
    }


def tokens(ts: TraceSet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, key in (("input", "gen_ai.usage.input_tokens"), ("output", "gen_ai.usage.output_tokens")):
        vals = [v for r in ts.records if (v := r.number(key)) is not None]
        out[name] = {"total": int(sum(vals)), "mean": rnd(sum(vals) / len(vals)) if vals else None, "n": len(vals)}
    return out


def cache_level(r: TraceRecord) -> str | None:
    """'exact', 'semantic', … on a hit; 'miss' when the cache was consulted and missed; None if not."""
    level = r.get("edgeprompt.cache.level")
    hit = r.get("edgeprompt.cache.hit")
    if level in (None, "") and hit is None:
        return None
    if hit is False or str(level).lower() in ("miss", "none", ""):
        return "miss"
    return str(level) if level not in (None, "") else "hit"


def cache(ts: TraceSet) -> dict[str, Any]:
    levels = [lv for r in ts.records if (lv := cache_level(r)) is not None]
    hits = [lv for lv in levels if lv != "miss"]
    by_level: dict[str, int] = defaultdict(int)
    for lv in hits:
        by_level[lv] += 1
    return {
        "lookups": len(levels),
        "hits": len(hits),
        "hit_rate": rate(len(hits), len(levels)),
        "by_level": {k: {"hits": n, "rate": rate(n, len(levels))} for k, n in sorted(by_level.items())},
    }


def firewall_actions(r: TraceRecord) -> set[str]:
    """What the firewall did to this request, among flag, block and redact (empty when it allowed all).

    Input scan `edgeprompt.firewall.input.decision`: allow | flag | block; retrieved passages flagged
    (`edgeprompt.firewall.documents.flagged`) count as a flag; output validation
    `edgeprompt.firewall.output.decision`: allow | flag (something was redacted) | block."""
    acts: set[str] = set()
    inp = r.get("edgeprompt.firewall.input.decision")
    out = r.get("edgeprompt.firewall.output.decision")
    if inp in ("flag", "block"):
        acts.add(inp)
    if (r.number("edgeprompt.firewall.documents.flagged") or 0) > 0:
        acts.add("flag")
    if out == "block":
        acts.add("block")
    elif out == "flag":
        acts.add("redact")
    return acts


def firewall(ts: TraceSet) -> dict[str, Any]:
    checked = [r for r in ts.records if r.get("edgeprompt.firewall.input.decision") is not None]
    acts = [firewall_actions(r) for r in checked]
    flagged = sum(1 for a in acts if "flag" in a)
    blocked = sum(1 for a in acts if "block" in a)
    redacted = sum(1 for a in acts if "redact" in a)
    n = len(checked)
    return {
        "checked": n,
        "flagged": flagged,
        "blocked": blocked,
        "redacted": redacted,
        "flag_rate": rate(flagged, n),
        "block_rate": rate(blocked, n),
        "redact_rate": rate(redacted, n),
    }


def prompt_key(r: TraceRecord) -> str:
    name = r.get("edgeprompt.prompt.name")
    if not name:
        return NO_KEY
    version = r.get("edgeprompt.prompt.version")
    return f"{name}@{version}" if version is not None else str(name)


def thumbs_by(records: Iterable[TraceRecord], key: Callable[[TraceRecord], str]) -> list[dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        g = groups[key(r)]
        g[2] += 1
        if r.thumbs == 1:
            g[0] += 1
        elif r.thumbs == -1:
            g[1] += 1
    return [
        {"key": k, "requests": n, "up": up, "down": down, "up_rate": rate(up, up + down)}
        for k, (up, down, n) in sorted(groups.items(), key=lambda kv: (-kv[1][2], kv[0]))
    ]


def feedback(ts: TraceSet, topic_of: Callable[[TraceRecord], str] | None = None) -> dict[str, Any]:
    up = sum(1 for r in ts.records if r.thumbs == 1)
    down = sum(1 for r in ts.records if r.thumbs == -1)
    dists = [d for r in ts.records for d in r.edits]
    out: dict[str, Any] = {
        "up": up,
        "down": down,
        "rated": up + down,
        "up_rate": rate(up, up + down),
        "edits": len(dists),
        "mean_edit_distance": rnd(sum(dists) / len(dists)) if dists else None,
        "by_prompt_version": thumbs_by(ts.records, prompt_key),
        "by_model": thumbs_by(ts.records, lambda r: r.model),
    }
    if topic_of is not None:
        out["by_topic"] = thumbs_by(ts.records, topic_of)
    return out


def length_bin(tokens_in: float) -> int:
    return max(i for i, edge in enumerate(LENGTH_EDGES) if tokens_in >= edge)


def bin_label(i: int) -> str:
    def k(n: int) -> str:
        return f"{n // 1024}k" if n >= 1024 else str(n)

    lo = LENGTH_EDGES[i]
    return f"≥{k(lo)}" if i == len(LENGTH_EDGES) - 1 else f"{k(lo)}–{k(LENGTH_EDGES[i + 1])}"


def prompt_length(ts: TraceSet) -> list[dict[str, Any]]:
    """Quality and latency by prompt length: does a longer context make answers slower or worse?"""
    bins: dict[int, list[TraceRecord]] = defaultdict(list)
    for r in ts.records:
        n = r.number("gen_ai.usage.input_tokens")
        if n is not None:
            bins[length_bin(n)].append(r)
    out = []
    for i in sorted(bins):
        rs = bins[i]
        up = sum(1 for r in rs if r.thumbs == 1)
        down = sum(1 for r in rs if r.thumbs == -1)
        lps = [v for r in rs if (v := r.number("edgeprompt.confidence.mean_logprob")) is not None]
        out.append(
            {
                "bin": bin_label(i),
                "min_tokens": LENGTH_EDGES[i],
                "max_tokens": LENGTH_EDGES[i + 1] - 1 if i + 1 < len(LENGTH_EDGES) else None,
                "requests": len(rs),
                "latency_ms": summary([r.duration_ms for r in rs]),
                "ttft_ms": summary([v for r in rs if (v := ttft(r)) is not None]),
                "up": up,
                "down": down,
                "up_rate": rate(up, up + down),
                "mean_logprob": rnd(sum(lps) / len(lps), 4) if lps else None,
            }
        )
    return out


def models(ts: TraceSet) -> list[dict[str, Any]]:
    """Per model: decode speed, whole-answer cost per output token, and energy per answer."""
    groups: dict[str, list[TraceRecord]] = defaultdict(list)
    for r in ts.records:
        groups[r.model].append(r)
    out = []
    for model, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        tps = [v for r in rs if (v := r.number("edgeprompt.tokens_per_s")) is not None and v > 0]
        per_tok = []
        for r in rs:
            g, n = r.stage_ms("generate"), r.number("gen_ai.usage.output_tokens")
            if g is not None and n:
                per_tok.append(g / n)
        metered = [r for r in rs if r.number("edgeprompt.energy.joules") is not None]
        joules = [r.number("edgeprompt.energy.joules") or 0.0 for r in metered]
        sources = sorted({str(r.get("edgeprompt.energy.source", "estimate")) for r in metered})
        out_tok = sum(v for r in rs if (v := r.number("gen_ai.usage.output_tokens")) is not None)
        metered_tok = sum(r.number("gen_ai.usage.output_tokens") or 0.0 for r in metered)
        total_j = sum(joules)
        out.append(
            {
                "model": model,
                "requests": len(rs),
                "output_tokens": int(out_tok),
                "tokens_per_s": summary(tps),
                "ms_per_token": summary(per_tok),
                "energy": {
                    "answers": len(joules),
                    "joules_per_answer": rnd(total_j / len(joules)) if joules else None,
                    "joules_per_token": rnd(total_j / metered_tok, 4) if metered_tok else None,
                    "source": "/".join(sources) if sources else None,
                },
            }
        )
    return out


def status_counts(ts: TraceSet) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in ts.records:
        out[r.status] += 1
    return dict(sorted(out.items()))


def daily(ts: TraceSet) -> list[dict[str, Any]]:
    """Requests, ratings and median latency per local calendar day."""
    days: dict[str, list[TraceRecord]] = defaultdict(list)
    for r in ts.records:
        days[time.strftime("%Y-%m-%d", time.localtime(r.started_at))].append(r)
    return [
        {
            "day": d,
            "requests": len(rs),
            "up": sum(1 for r in rs if r.thumbs == 1),
            "down": sum(1 for r in rs if r.thumbs == -1),
            "latency_ms_p50": rnd(percentile([r.duration_ms for r in rs], 50)),
        }
        for d, rs in sorted(days.items())
    ]


# bucket widths for `timeline`, the first whose count of buckets over the data's span stays <= TIMELINE_MAX
BUCKETS_S = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
TIMELINE_MAX = 48


def timeline(ts: TraceSet) -> dict[str, Any]:
    """Requests, median latency and ratings per time bucket, sized by the span of the data itself: an hour
    of use gets minutes, not one bar for "today" or one for its hour of the day. Empty buckets are kept so
    gaps show as gaps."""
    starts = [r.started_at for r in ts.records]
    if not starts:
        return {"bucket_s": None, "buckets": []}
    first, last = min(starts), max(starts)
    width = next((w for w in BUCKETS_S if (last - first) / w < TIMELINE_MAX), BUCKETS_S[-1])
    origin = first - first % width
    groups: dict[int, list[TraceRecord]] = defaultdict(list)
    for r in ts.records:
        groups[int((r.started_at - origin) // width)].append(r)
    fmt = "%H:%M" if width < 86400 else "%m-%d"
    out = []
    for i in range(int((last - origin) // width) + 1):
        rs, at = groups.get(i, []), origin + i * width
        out.append(
            {
                "start": round(at, 3),
                "label": time.strftime(fmt, time.localtime(at)),
                "requests": len(rs),
                "p50": summary([r.duration_ms for r in rs])["p50"],
                "up": sum(1 for r in rs if r.thumbs == 1),
                "down": sum(1 for r in rs if r.thumbs == -1),
            }
        )
    return {"bucket_s": width, "buckets": out}
