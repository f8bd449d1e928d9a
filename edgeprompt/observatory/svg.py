"""Small, dependency-free SVG charts for the offline report: horizontal bars, columns and lines.

Hand-built rather than matplotlib: a few hundred lines, no extra 40 MB dependency, identical output on
every machine, and text stays text (searchable, crisp at any zoom). Every chart has a <title> per mark
so hovering shows the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#2f6fde", "#e07b39", "#3a9d5d", "#b8457a", "#7a5cc4", "#8c8c8c")
FONT = "font-family='system-ui,-apple-system,Segoe UI,Roboto,sans-serif'"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = PALETTE[0]


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi - 1e-12:  # the top tick is at or above the largest value, so nothing is drawn outside
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k".replace(".0k", "k")
    if v == int(v):
        return str(int(v))
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text(
    x: float, y: float, s: str, size: int = 11, anchor: str = "start", color: str = "#333", weight: str = "normal"
) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' fill='{color}' "
        f"font-weight='{weight}' {FONT}>{escape(s)}</text>"
    )


def _frame(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' style='max-width:100%;height:auto' role='img' aria-label='{escape(label)}'>"
        + "".join(body)
        + "</svg>"
    )


def hbars(
    items: Sequence[tuple[str, float]],
    unit: str = "",
    width: int = 880,
    color: str = PALETTE[0],
    label: str = "bar chart",
    notes: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, one row per item, value printed at the end of each bar."""
    if not items:
        return ""
    row, left, right = 26, min(260, 16 + 7 * max(len(k) for k, _ in items)), 90
    height = row * len(items) + 10
    top = max(v for _, v in items) or 1.0
    span = width - left - right
    body = []
    for i, (k, v) in enumerate(items):
        y = 5 + i * row
        w = max(1.0, span * v / top) if v > 0 else 0.0
        tip = f"{k}: {fmt(v)}{unit}" + (f" — {notes[i]}" if notes else "")
        body.append(_text(left - 8, y + 16, k, anchor="end"))
        body.append(
            f"<rect x='{left}' y='{y + 3}' width='{w:.1f}' height='{row - 8}' rx='3' fill='{color}'>"
            f"<title>{escape(tip)}</title></rect>"
        )
        body.append(_text(left + w + 6, y + 16, f"{fmt(v)}{unit}", color="#555"))
    return _frame(width, height, body, label)


def _axes(ticks: list[float], x0: int, y0: int, w: int, h: int, y_of: Callable[[float], float], unit: str) -> list[str]:
    out = []
    for t in ticks:
        y = y_of(t)
        out.append(f"<line x1='{x0}' x2='{x0 + w}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e5e5'/>")
        out.append(_text(x0 - 6, y + 4, fmt(t) + unit, size=10, anchor="end", color="#777"))
    out.append(f"<line x1='{x0}' x2='{x0 + w}' y1='{y0 + h}' y2='{y0 + h}' stroke='#999'/>")
    return out


def _legend(series: Sequence[Series], x: int, y: int, right: int = 10**6) -> tuple[list[str], int]:
    """Colour keys in rows that wrap at `right`; returns the marks and how many rows they took."""
    out = []
    left, rows = x, 1
    for s in series:
        if x > left and x + 28 + 7 * len(s.name) > right:
            x, y, rows = left, y + 16, rows + 1
        out.append(f"<rect x='{x}' y='{y - 9}' width='12' height='12' rx='2' fill='{s.color}'/>")
        out.append(_text(x + 16, y + 1, s.name, size=11))
        x += 28 + 7 * len(s.name)
    return out, rows


def _x_labels(labels: Sequence[str], xs: list[float], y: float, every: int) -> list[str]:
    return [
        _text(x, y, lab, size=10, anchor="middle", color="#555")
        for i, (lab, x) in enumerate(zip(labels, xs, strict=True))
        if i % every == 0
    ]


def _scale(
    series: Sequence[Series], threshold: float | None, floor_zero: bool, log: bool = False
) -> tuple[list[float], float, float]:
    vals = [v for s in series for v in s.values if v is not None and (v > 0 or not log)]
    if threshold is not None:
        vals.append(threshold)
    if log:  # decades: 1, 10, 100, …
        lo_e = math.floor(math.log10(min(vals, default=1.0)))
        hi_e = max(lo_e + 1, math.ceil(math.log10(max(vals, default=10.0))))
        ticks = [10.0**e for e in range(lo_e, hi_e + 1)]
        return ticks, ticks[0], ticks[-1]
    lo = 0.0 if floor_zero else min(vals, default=0.0)
    ticks = nice_ticks(lo, max(vals, default=1.0))
    return ticks, ticks[0], ticks[-1] if ticks[-1] > ticks[0] else ticks[0] + 1


def columns(
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    width: int = 880,
    height: int = 240,
    label: str = "column chart",
) -> str:
    """Grouped columns (one group per label)."""
    if not labels or not series:
        return ""
    x0, y0, h, w = 52, 26, height - 62, width - 70
    ticks, lo, hi = _scale(series, None, True)
    body = _legend(series, x0, 14)[0] if len(series) > 1 else []
    body += _axes(ticks, x0, y0, w, h, lambda v: y0 + h - (v - lo) / (hi - lo) * h, unit)
    group = w / len(labels)
    bw = max(2.0, group * 0.8 / len(series))
    centers = []
    for i, lab in enumerate(labels):
        gx = x0 + i * group + group * 0.1
        centers.append(x0 + (i + 0.5) * group)
        for j, s in enumerate(series):
            v = s.values[i]
            if v is None or v <= 0:
                continue
            bh = (v - lo) / (hi - lo) * h
            body.append(
                f"<rect x='{gx + j * bw:.1f}' y='{y0 + h - bh:.1f}' width='{bw - 1:.1f}' height='{bh:.1f}' "
                f"fill='{s.color}'><title>{escape(f'{lab} · {s.name}: {fmt(v)}{unit}')}</title></rect>"
            )
    every = max(1, math.ceil(len(labels) * 46 / w))
    body += _x_labels(labels, centers, y0 + h + 16, every)
    return _frame(width, height, body, label)


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    width: int = 880,
    height: int = 260,
    threshold: float | None = None,
    threshold_label: str = "",
    marks: Sequence[bool] | None = None,
    floor_zero: bool = True,
    label: str = "line chart",
    x_title: str = "",
    log_y: bool = False,
) -> str:
    """Lines with dots; gaps where a value is None; optional dashed threshold, red alarm marks, log y axis."""
    if not labels or not series:
        return ""
    x0, w = 64, width - 110  # room for the last label
    legend, rows = _legend(series, x0, 14, x0 + w)
    y0 = 26 + 16 * (rows - 1)
    h = height - y0 - 40 - (12 if x_title else 0)
    ticks, lo, hi = _scale(series, threshold, floor_zero, log_y)

    def y_of(v: float) -> float:
        if log_y:
            return y0 + h - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * h
        return y0 + h - (v - lo) / (hi - lo) * h

    body = legend + _axes(ticks, x0, y0, w, h, y_of, unit)
    step = w / max(1, len(labels) - 1) if len(labels) > 1 else 0.0
    xs = [x0 + (i * step if len(labels) > 1 else w / 2) for i in range(len(labels))]

    if threshold is not None:
        ty = y_of(threshold)
        body.append(
            f"<line x1='{x0}' x2='{x0 + w}' y1='{ty:.1f}' y2='{ty:.1f}' stroke='#c62828' stroke-dasharray='5 4'/>"
        )
        body.append(_text(x0 + w, ty - 4, threshold_label, size=10, anchor="end", color="#c62828"))
    for s in series:
        pts = [
            (x, y_of(v), v, lab)
            for x, v, lab in zip(xs, s.values, labels, strict=True)
            if v is not None and (v > 0 or not log_y)
        ]
        if len(pts) > 1:
            path = " ".join(f"{'M' if k == 0 else 'L'}{x:.1f},{y:.1f}" for k, (x, y, _, _) in enumerate(pts))
            body.append(f"<path d='{path}' fill='none' stroke='{s.color}' stroke-width='2'/>")
        for x, y, v, lab in pts:
            alarm = marks is not None and marks[labels.index(lab)] and s is series[0]
            body.append(
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{5 if alarm else 3}' "
                f"fill='{'#c62828' if alarm else s.color}'>"
                f"<title>{escape(f'{lab} · {s.name}: {fmt(v)}{unit}')}</title></circle>"
            )
    every = max(1, math.ceil(len(labels) * 52 / max(1, w)))
    body += _x_labels(labels, xs, y0 + h + 16, every)
    if x_title:
        body.append(_text(x0 + w / 2, height - 6, x_title, size=11, anchor="middle", color="#555"))
    return _frame(width, height, body, label)
