"""The observatory screen: the `observe report` object (built in a worker) as numbers and charts —
latency, cache hits, thumbs-up rate, drift, topic clusters and failure categories (textual-plotext)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from edgeprompt.observatory.drift import verdict
from edgeprompt.observatory.report import first_token
from edgeprompt.tui.widgets import EdgeScreen

RANGES = ("24h", "7d", "30d", "all")
TICKS = 8  # most time labels under a chart
MIN_SLOTS = 12  # the x axis holds at least this many buckets
CHARTS = ("latency", "stages", "cache", "feedback", "drift", "topics", "failures")


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.0%}"


def _ms(v: float | None) -> str:
    return "–" if v is None else (f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms")


def overview_text(rep: dict[str, Any], since: str) -> str:
    fb, lat, cache, fw = rep["feedback"], rep["latency_ms"], rep["cache"], rep["firewall"]
    fails = [f"{k.replace('_', ' ')} {v['count']}" for k, v in rep["failures"].items() if v["count"]]
    q_alarms = rep["drift"]["questions"]["alarms"] + rep["drift"]["answers"]["alarms"]
    state = verdict(rep["drift"])  # the HTML report's rule: "steady" only where windows were compared
    lines = [
        f"range {since} · {rep['requests']} requests · " + ", ".join(f"{k} {v}" for k, v in rep["status"].items()),
        f"feedback    👍 {fb['up']} up · 👎 {fb['down']} down · thumbs-up rate {_pct(fb['up_rate'])} · "
        f"{fb['edits']} edits",
        f"latency     median {_ms(lat['total']['p50'])} · p95 {_ms(lat['total']['p95'])} · "
        f"first token median {first_token(lat['ttft'])}",
        f"cache       {cache['hits']} hits of {cache['lookups']} lookups · hit rate {_pct(cache['hit_rate'])}",
        f"firewall    {fw['checked']} checked · {fw['flagged']} flagged · {fw['blocked']} blocked · "
        f"{fw['redacted']} redacted",
        f"tokens      {rep['tokens']['input']['total']} in · {rep['tokens']['output']['total']} out",
        "failures    " + (", ".join(fails) if fails else "none"),
        "topics      "
        + (
            "; ".join(f"{t['label']} ({t['requests']})" for t in rep["topics"][:4])
            or rep["topic_clustering"].get("status", "none")
        ),
        "drift       "
        + (
            f"ALARM in {', '.join(sorted(set(q_alarms)))}"
            if state == "changed"
            else "steady"
            if state == "steady"
            else f"not enough data yet ({rep['drift']['questions']['status']})"
        ),
    ]
    return "\n".join(lines + [f"note: {n}" for n in rep["notes"]])


def _bars(plt: Any, labels: list[str], values: list[float], title: str, horizontal: bool = False) -> None:
    if not labels:
        plt.title(f"{title} — no data yet")
        return
    plt.bar(labels, values, orientation="horizontal" if horizontal else "vertical", width=0.6)
    plt.title(title)


def _span(seconds: int) -> str:
    return (
        f"{seconds // 60} min"
        if seconds < 3600
        else f"{seconds // 3600} h"
        if seconds < 86400
        else f"{seconds // 86400} d"
    )


def _time_axis(plt: Any, buckets: list[dict[str, Any]]) -> None:
    """Label at most TICKS of the buckets (drawn at x = 0, 1, …) with their times; called after the bars,
    which set numeric ticks of their own. A few buckets still draw as bars, not across the whole width."""
    xs = list(range(len(buckets)))
    step = max(1, -(-len(buckets) // TICKS))
    plt.xticks(xs[::step], [b["label"] for b in buckets][::step])
    plt.xlim(-1, max(len(buckets), MIN_SLOTS))


def plot_latency(plt: Any, rep: dict[str, Any]) -> None:
    tl = rep["timeline"]
    if not tl["buckets"]:
        plt.title("median latency over time (ms) — no data yet")
        return
    buckets = tl["buckets"]
    plt.bar(list(range(len(buckets))), [b["p50"] or 0 for b in buckets], width=0.6)
    _time_axis(plt, buckets)
    plt.title(f"median latency per {_span(tl['bucket_s'])} (ms)")


def plot_stages(plt: Any, rep: dict[str, Any]) -> None:
    stages = list(rep["latency_ms"]["stages"].items())[:8]
    _bars(plt, [s for s, _ in stages], [v["p50"] or 0 for _, v in stages], "median time per stage (ms)", True)


def plot_cache(plt: Any, rep: dict[str, Any]) -> None:
    c = rep["cache"]
    levels = {k: v["hits"] for k, v in c["by_level"].items()}
    if c["lookups"]:
        levels["miss"] = c["lookups"] - c["hits"]
    _bars(plt, list(levels), list(levels.values()), f"cache lookups by outcome · hit rate {_pct(c['hit_rate'])}")


def plot_feedback(plt: Any, rep: dict[str, Any]) -> None:
    tl = rep["timeline"]
    buckets = tl["buckets"]
    rate = _pct(rep["feedback"]["up_rate"])
    if not any(b["up"] or b["down"] for b in buckets):
        plt.title(f"thumbs up / down · thumbs-up rate {rate} — no ratings yet")
        return
    # the colours are named in the title: a plotext legend is drawn over the bars
    plt.stacked_bar(
        list(range(len(buckets))),
        [[b["up"] for b in buckets], [b["down"] for b in buckets]],
        color=["green", "red"],
        width=0.6,
    )
    _time_axis(plt, buckets)
    plt.title(f"thumbs up (green) / down (red) per {_span(tl['bucket_s'])} · thumbs-up rate {rate}")


def plot_drift(plt: Any, rep: dict[str, Any]) -> None:
    plotted = False
    for name in ("questions", "answers"):
        windows = [w for w in rep["drift"][name]["windows"] if w.get("tested")]
        if windows:
            plt.plot([w["window"] for w in windows], [w["auc"] for w in windows], label=f"{name} AUC", marker="dot")
            plotted = True
    status = rep["drift"]["questions"]["status"]
    plt.title(
        "drift: domain-classifier AUC per window vs reference (0.5 = no drift)" if plotted else f"drift — {status}"
    )


def plot_topics(plt: Any, rep: dict[str, Any]) -> None:
    topics = rep["topics"][:8]
    _bars(plt, [t["label"][:24] for t in topics], [t["requests"] for t in topics], "questions per topic cluster", True)


def plot_failures(plt: Any, rep: dict[str, Any]) -> None:
    fails = [(k.replace("_", " "), v["count"]) for k, v in rep["failures"].items() if v["count"]]
    _bars(plt, [k for k, _ in fails], [n for _, n in fails], "answers per failure category", True)


PLOTTERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "latency": plot_latency,
    "stages": plot_stages,
    "cache": plot_cache,
    "feedback": plot_feedback,
    "drift": plot_drift,
    "topics": plot_topics,
    "failures": plot_failures,
}


class ObservatoryScreen(EdgeScreen):
    DEFAULT_CSS = """
    ObservatoryScreen #overview-text { padding: 0 1; }
    ObservatoryScreen PlotextPlot { height: 1fr; min-height: 10; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh"),
        Binding("s", "cycle_range", "Range"),
        Binding("left,h", "tab(-1)", "Prev tab", show=False),
        Binding("right,l", "tab(1)", "Next tab", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.since = "7d"
        self.report: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield from self.header()
        with TabbedContent(id="obs-tabs"):
            with TabPane("Overview", id="tab-overview"), VerticalScroll():
                yield Static("building the report…", id="overview-text", markup=False)
            for name in CHARTS:
                with TabPane(name.capitalize(), id=f"tab-{name}"):
                    yield PlotextPlot(id=f"plot-{name}")
        yield from self.footer()

    def on_mount(self) -> None:
        self.action_reload()

    def on_screen_resume(self) -> None:
        if self.report is not None:  # come back to fresh numbers (answers and ratings since last time)
            self.action_reload()

    def action_reload(self) -> None:
        from edgeprompt.observatory.report import build_report, parse_since

        since = self.since

        def build() -> dict[str, Any]:
            return build_report(self.rt.db, self.rt.settings.section("observatory"), parse_since(since))

        self.background(
            build, lambda rep: self.show(rep, since), title="Could not build the report", group="report", exclusive=True
        )

    def action_cycle_range(self) -> None:
        self.since = RANGES[(RANGES.index(self.since) + 1) % len(RANGES)]
        self.notify(f"Range: {self.since}")
        self.action_reload()

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        ids = ["tab-overview", *(f"tab-{n}" for n in CHARTS)]
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)]

    def show(self, rep: dict[str, Any], since: str) -> None:
        self.report = rep
        self.query_one("#overview-text", Static).update(overview_text(rep, since))
        for name, plotter in PLOTTERS.items():
            widget = self.query_one(f"#plot-{name}", PlotextPlot)
            widget.plt.clear_figure()
            plotter(widget.plt, rep)
            widget.refresh()
