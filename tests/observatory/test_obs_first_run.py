"""What the observatory says after a new user's first hour: time buckets sized by the data, abstentions
counted as failures, no made-up first-token time, and "steady" only where drift was actually tested."""

from __future__ import annotations

import re
import time
from typing import Any

import plotext
from obs_helpers import ask, move_to

from edgeprompt.observatory import html
from edgeprompt.observatory.report import build_report, summary_text
from edgeprompt.store.feedback import FeedbackStore
from edgeprompt.tui.observatory import overview_text, plot_feedback, plot_latency

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _report(rt: Any) -> dict[str, Any]:
    return build_report(rt.db, rt.settings.section("observatory"), 0.0)


def _drawn(plotter: Any, rep: dict[str, Any]) -> list[str]:
    plotext.clear_figure()
    plotext.plotsize(80, 16)
    plotter(plotext, rep)
    return ANSI.sub("", plotext.build()).splitlines()


def test_an_hour_of_use_is_bucketed_by_minutes_not_drawn_as_one_block(obs_rt: Any) -> None:
    rt = obs_rt
    results = [ask(rt, f"question number {i} about tomatoes") for i in range(12)]
    start = time.time() - 3600
    move_to(rt, [r.trace_id for r in results], start, step=300)  # one every 5 minutes for an hour
    feedback = FeedbackStore(rt.db)
    for r in results[:3]:
        feedback.thumbs(r.trace_id, True)
    feedback.thumbs(results[5].trace_id, False)
    rep = _report(rt)
    tl = rep["timeline"]
    assert tl["bucket_s"] == 300 and len(tl["buckets"]) == 12
    assert [b["requests"] for b in tl["buckets"]] == [1] * 12
    assert sum(b["up"] for b in tl["buckets"]) == 3 and sum(b["down"] for b in tl["buckets"]) == 1
    for plotter in (plot_latency, plot_feedback):
        rows = _drawn(plotter, rep)
        canvas = [r.split("┤", 1)[1] for r in rows if "┤" in r and "│" in r]
        runs = [len(run) for r in canvas for run in re.findall("█+", r)]
        assert runs and max(runs) <= 8, plotter.__name__  # separate narrow bars, not one block
        assert max(len(re.findall("█+", r)) for r in canvas) >= 4, plotter.__name__
    legend = _drawn(plot_feedback, rep)
    assert not any("██ up" in r or "██ down" in r for r in legend)  # no legend drawn over the bars
    assert "up (green)" in "".join(legend)


def test_abstentions_count_as_failures_and_fixed_answers_have_no_first_token(obs_rt: Any) -> None:
    rt = obs_rt
    for q in ("what is the capital of France", "how tall is Mont Blanc"):
        r = ask(rt, q, model="extractive")  # no generative model, no documents: a fixed answer
        assert r.abstained
    rep = _report(rt)
    assert rep["failures"]["abstention"]["count"] == 2
    assert rep["latency_ms"]["ttft"]["p50"] is None
    for text in (summary_text(rep), overview_text(rep, "7d")):
        assert "first token median n/a" in text and "first token median 0 ms" not in text
        assert "abstention 2" in text


def test_steady_is_said_only_when_drift_was_tested(obs_rt: Any) -> None:
    rt = obs_rt
    ask(rt, "one question only")
    rep = _report(rt)
    page = html.render(rep)
    assert "steady" not in page and "Not enough data to compare periods" in page
    assert "not enough data" in summary_text(rep) and "not enough data" in overview_text(rep, "7d")
