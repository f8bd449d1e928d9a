"""The report as one self-contained HTML page: inline CSS and SVG, no scripts, no network.

Written for the laptop's owner, not for an engineer: each section opens with a plain sentence of what it
shows and what good looks like; exact numbers sit in tables and in the charts' hover titles.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from edgeprompt.observatory import drift, svg
from edgeprompt.observatory.failures import CATEGORIES

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#222;
line-height:1.45}
main{max-width:980px;margin:0 auto;padding:28px 22px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 6px}
.sub{color:#666;margin:0 0 20px}.lead{color:#444;margin:0 0 12px;max-width:760px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card .big{font-size:28px;font-weight:650}.card .what{color:#555;font-size:13px}
.card.bad{border-left:5px solid #c62828}.card.good{border-left:5px solid #3a9d5d}
.panel{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:6px 8px;
border-bottom:1px solid #eee;vertical-align:top}th{color:#555;font-weight:600}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}.ids{font-family:ui-monospace,Menlo,monospace;font-size:12px;color:#555}
.alarm{color:#c62828;font-weight:650}.ok{color:#3a9d5d;font-weight:650}.muted{color:#888}
.notes li{margin:4px 0;color:#555}
"""


def _pct(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.1%}" if 0 < x < 0.01 else f"{x:.0%}"


STAGE_NAMES = {  # the pipeline's stage names, in words
    "generate": "writing the answer",
    "retrieval": "searching your documents",
    "cache.lookup": "checking the cache",
    "cache.store": "saving to the cache",
    "firewall.input": "checking the question",
    "firewall.isolate": "checking the documents",
    "firewall.output": "checking the answer",
    "session.load": "loading the conversation",
    "session.save": "saving the conversation",
    "prompt.render": "preparing the prompt",
    "context.fit": "fitting the conversation",
    "model.load": "loading the model",
    "route": "choosing a model",
    "observe.signals": "recording signals",
}


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms"


def _num(v: Any, nd: int = 2) -> str:
    if v is None:
        return "–"
    return f"{v:,.{nd}f}" if isinstance(v, float) else f"{v:,}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    th = "".join(f"<th{' class=num' if i in numeric else ''}>{escape(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, lead: str, *parts: str) -> str:
    inner = "".join(p for p in parts if p)
    return f"<h2>{escape(title)}</h2><p class=lead>{lead}</p>" + (
        f"<div class=panel>{inner}</div>" if inner else "<p class=muted>No data in this period.</p>"
    )


def _drift_alarms(rep: Mapping[str, Any]) -> list[str]:
    d = rep["drift"]
    return sorted(set(d["questions"]["alarms"]) | set(d["answers"]["alarms"]))


def _drift_card(block: Mapping[str, Any], alarms: list[str]) -> tuple[str, str, str]:
    state = drift.verdict(block)  # the drift section below follows the same rule
    if state == "changed":
        return "bad", "changed", "questions changed on " + ", ".join(alarms)
    if state == "steady":
        return "good", "steady", "what people ask looks like before"
    return "", "–", "not enough data yet to tell whether questions changed"


def _cards(rep: Mapping[str, Any]) -> str:
    fb, lat = rep["feedback"], rep["latency_ms"]["total"]
    problems = rep["answers_with_problems"]
    alarms = _drift_alarms(rep)
    cards = [
        ("", f"{rep['requests']:,}", "questions answered"),
        (
            "good" if (fb["up_rate"] or 0) >= 0.8 else ("bad" if fb["up_rate"] is not None else ""),
            _pct(fb["up_rate"]),
            f"of rated answers were helpful ({fb['up']:,} up, {fb['down']:,} down)",
        ),
        ("", _ms(lat["p50"]), f"typical answer time (slowest 5%: {_ms(lat['p95'])})"),
        (
            "bad" if (problems["rate"] or 0) > 0.1 else "good",
            _pct(problems["rate"]),
            f"of answers had a problem ({problems['count']:,}; see below)",
        ),
        _drift_card(rep["drift"], alarms),
    ]
    return (
        "<div class=cards>"
        + "".join(
            f"<div class='card {cls}'><div class=big>{escape(big)}</div><div class=what>{escape(what)}</div></div>"
            for cls, big, what in cards
        )
        + "</div>"
    )


def _activity(rep: Mapping[str, Any]) -> str:
    days = rep["daily"]
    if not days:
        return ""
    labels = [d["day"][5:] for d in days]
    return svg.columns(
        labels,
        [
            svg.Series("questions", [d["requests"] for d in days], svg.PALETTE[0]),
            svg.Series("rated helpful", [d["up"] for d in days], svg.PALETTE[2]),
            svg.Series("rated unhelpful", [d["down"] for d in days], "#c62828"),
        ],
        label="questions and ratings per day",
    )


def _topics(rep: Mapping[str, Any]) -> str:
    ts = rep["topics"]
    if not ts:
        return f"<p class=muted>{escape(rep['topic_clustering'].get('status', ''))}</p>"
    rows = [
        [
            escape(t["label"]),
            f"{t['requests']:,}",
            _pct(t["share"]),
            _pct(t["up_rate"]),
            f"{t['failed']:,}",
            _ms(t["latency_ms_p50"]),
            _num(t["mean_logprob"]),
        ]
        for t in ts
    ]
    chart = svg.hbars([(t["label"], t["requests"]) for t in ts], label="questions per topic")
    return chart + _table(
        ["topic (top words)", "questions", "share", "helpful", "with a problem", "typical time", "confidence"],
        rows,
        (1, 2, 3, 4, 5, 6),
    )


def _failures(rep: Mapping[str, Any]) -> str:
    f = rep["failures"]
    items = [(k.replace("_", " "), f[k]["count"]) for k in CATEGORIES if f[k]["count"]]
    if not items:
        return "<p class=ok>No problems found in this period.</p>"
    rows = [
        [
            escape(k.replace("_", " ")),
            escape(f[k]["description"]),
            f"{f[k]['count']:,}",
            _pct(f[k]["rate"]),
            "<span class=ids>" + "<br>".join(escape(i[:12]) for i in f[k]["examples"][:3]) + "</span>",
        ]
        for k in CATEGORIES
        if f[k]["count"]
    ]
    return svg.hbars(items, color="#c9653a", label="problems by kind") + _table(
        ["problem", "what it means", "answers", "share", "examples (trace id)"], rows, (2, 3)
    )


def _speed(rep: Mapping[str, Any]) -> str:
    lat = rep["latency_ms"]
    stages = [(f"{STAGE_NAMES.get(k, k)} ({k})", v["p50"]) for k, v in lat["stages"].items() if v["p50"] is not None][
        :10
    ]
    hours = lat["by_hour"]
    hour_chart = svg.lines(
        [f"{h['hour']:02d}h" for h in hours],
        [
            svg.Series("typical (median)", [h["p50"] for h in hours], svg.PALETTE[0]),
            svg.Series("slowest 5%", [h["p95"] for h in hours], svg.PALETTE[1]),
        ],
        unit=" ms",
        label="answer time by hour of day",
        x_title="hour of the day",
    )
    return (
        "<h3>Where the time goes (median per step)</h3>"
        + svg.hbars(stages, unit=" ms", label="time per step")
        + "<h3>Answer time by hour of the day</h3>"
        + hour_chart
    )


def _length(rep: Mapping[str, Any]) -> str:
    bins = rep["prompt_length"]
    if not bins:
        return ""
    labels = [b["bin"] for b in bins]
    chart = svg.lines(
        labels,
        [
            svg.Series("answer time (median)", [b["latency_ms"]["p50"] for b in bins]),
            svg.Series("first word (median)", [b["ttft_ms"]["p50"] for b in bins], svg.PALETTE[1]),
        ],
        unit=" ms",
        label="latency by prompt length",
        x_title="prompt length (tokens)",
    )
    rows = [
        [
            escape(b["bin"]),
            f"{b['requests']:,}",
            _ms(b["latency_ms"]["p50"]),
            _ms(b["ttft_ms"]["p50"]),
            _pct(b["up_rate"]),
            _num(b["mean_logprob"]),
        ]
        for b in bins
    ]
    return chart + _table(
        ["prompt tokens", "questions", "typical time", "first word after", "helpful", "confidence"],
        rows,
        (1, 2, 3, 4, 5),
    )


def _drift(rep: Mapping[str, Any]) -> str:
    d = rep["drift"]
    q = d["questions"]
    tested = [w for w in q["windows"] if w.get("tested")]
    if drift.verdict(d) == "not enough data":
        return f"<p class=muted>Not enough data to compare periods yet ({escape(q['status'])}).</p>"
    a_by = {w["window"]: w for w in d["answers"]["windows"] if w.get("tested")}
    labels = [w["window"] for w in tested]
    short = [x[5:] if len(x) == 10 else x for x in labels]  # 2024-05-01 → 05-01
    chart = svg.lines(
        short,
        [
            svg.Series("questions", [w["auc"] for w in tested]),
            svg.Series("answers", [a_by[x]["auc"] if x in a_by else None for x in labels], svg.PALETTE[1]),
        ],
        threshold=d["thresholds"]["min_auc"],
        threshold_label="alarm level",
        marks=[w["alarm"] for w in tested],
        floor_zero=False,
        label="how different each period is from the reference",
    )
    rows = [
        [
            escape(w["window"]),
            f"{w['n']:,}",
            _num(w["auc"], 3),
            _num(w["centroid_distance"], 4),
            _num(w["p_value"], 3),
            "<span class=alarm>changed</span>" if w["alarm"] else "<span class=ok>same</span>",
        ]
        for w in tested
    ]
    return chart + _table(
        ["period", "questions", "tell-apart score (0.5 = same)", "centroid distance", "p-value", "verdict"],
        rows,
        (1, 2, 3, 4),
    )


def _confidence(rep: Mapping[str, Any]) -> str:
    c = rep["confidence"]
    if not c["answers"]:
        return ""
    hist = c["histogram"]
    chart = svg.columns(
        [f"{h['from']:g}…{h['to']:g}" for h in hist],
        [svg.Series("answers", [h["count"] for h in hist], svg.PALETTE[4])],
        label="answers by mean token log-probability",
    )
    rows = [
        [
            escape(g["key"]),
            f"{g['mean_logprob']['n']:,}",
            _num(g["mean_logprob"]["mean"], 3),
            _num(g["mean_logprob"]["p05"], 3),
            _num(g["mean_entropy"]["mean"], 3),
        ]
        for g in c["by_model"]
    ]
    return (
        chart
        + f"<p>{c['low']['count']:,} answers fell below {c['threshold']} (flagged as low confidence).</p>"
        + _table(["model", "answers", "mean log-prob", "lowest 5%", "mean entropy"], rows, (1, 2, 3, 4))
    )


def _cost(rep: Mapping[str, Any]) -> str:
    rows = []
    for m in rep["models"]:
        e = m["energy"]
        src = {"rapl": "measured (RAPL counter)", "estimate": "estimated from CPU time", None: "–"}.get(
            e["source"], str(e["source"])
        )
        rows.append(
            [
                escape(m["model"]),
                f"{m['requests']:,}",
                _num(m["tokens_per_s"]["p50"], 1),
                _num(m["ms_per_token"]["p50"], 1),
                _num(e["joules_per_answer"], 2),
                escape(src),
            ]
        )
    cache, fw = rep["cache"], rep["firewall"]
    extra = _table(
        ["", "of", "share"],
        [
            [
                "answered from the cache",
                f"{cache['hits']:,} of {cache['lookups']:,} questions",
                _pct(cache["hit_rate"]),
            ],
            ["questions the firewall flagged", f"{fw['flagged']:,} of {fw['checked']:,}", _pct(fw["flag_rate"])],
            ["questions or answers it blocked", f"{fw['blocked']:,} of {fw['checked']:,}", _pct(fw["block_rate"])],
            ["answers it redacted", f"{fw['redacted']:,} of {fw['checked']:,}", _pct(fw["redact_rate"])],
        ],
        (1, 2),
    )
    return (
        _table(
            [
                "model",
                "answers",
                "tokens per second",
                "ms per token (whole answer)",
                "energy per answer (joules)",
                "how the energy is known",
            ],
            rows,
            (1, 2, 3, 4),
        )
        + "<h3>Cache and firewall</h3>"
        + extra
    )


def render(rep: Mapping[str, Any]) -> str:
    when = time.strftime("%d %b %Y %H:%M", time.localtime(rep["generated_at"]))
    since = time.strftime("%d %b %Y %H:%M", time.localtime(rep["since"])) if rep["since"] > 0 else "the start"
    notes = "".join(f"<li>{escape(n)}</li>" for n in rep["notes"])
    parts = [
        "<h1>How your assistant is doing</h1>",
        f"<p class=sub>From {escape(since)} to now · made on this computer, offline, {escape(when)}</p>",
        _cards(rep),
        _section("Activity", "Questions asked each day, and how people rated the answers.", _activity(rep)),
        _section(
            "What people asked about",
            "Questions grouped by meaning. Each group is named by the words that "
            "set it apart. A low “helpful” share points at a topic the assistant handles badly.",
            _topics(rep),
        ),
        _section(
            "What went wrong",
            "Answers with a problem, by kind. One answer can have several. Open an "
            "example with <code>edgeprompt observe trace ID</code>.",
            _failures(rep),
        ),
        _section("How fast", "Typical (median) and slow (95th percentile) answer times.", _speed(rep)),
        _section(
            "Longer prompts",
            "Longer conversations and more documents make a longer prompt. This shows "
            "whether that makes answers slower or worse.",
            _length(rep),
        ),
        _section(
            "Are the questions changing?",
            "Each period is compared with the first one: a computer tries to "
            "tell their questions apart. 0.5 means it cannot (same kind of questions); red dots mark a "
            "significant change.",
            _drift(rep),
        ),
        _section(
            "How sure the model was",
            "The average log-probability of the words in each answer: near 0 = sure, very negative = guessing.",
            _confidence(rep),
        ),
        _section(
            "Speed, cost and energy",
            "Per model. Energy is measured where the computer allows it, otherwise estimated and marked so.",
            _cost(rep),
        ),
        f"<h2>Notes</h2><ul class=notes>{notes}</ul>" if notes else "",
    ]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        "content='width=device-width,initial-scale=1'><title>edgeprompt report</title>"
        f"<style>{CSS}</style></head><body><main>" + "".join(parts) + "</main></body></html>\n"
    )
