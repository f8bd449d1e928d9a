"""The observatory's benchmark page: the context-length curve of `scripts/bench_context` as one HTML page.

Decode and prefill tokens/s and peak memory at each context length, per model, with the bandwidth-bound
decode limit drawn beside the measured decode rate (same styles and SVG charts as the report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from edgeprompt.observatory import svg
from edgeprompt.observatory.html import CSS, _num, _section, _table


def _label(context: int) -> str:
    return f"{context // 1024}k" if context >= 1024 and context % 1024 == 0 else str(context)


def decode_chart(report: Mapping[str, Any], i: int = 0) -> str:
    """The decode curve beside its bandwidth limit, one standalone SVG (the page, and the README's image)."""
    points = report["points"]
    return svg.lines(
        [_label(int(p["context"])) for p in points],
        [
            svg.Series(
                f"{report['model']} decode", [p["decode_tps"] for p in points], svg.PALETTE[i % len(svg.PALETTE)]
            ),
            svg.Series("bandwidth limit", [p["limit_tps"] for p in points], "#c62828"),
        ],
        unit=" tok/s",
        label="decode tokens per second by context length",
        x_title="context (tokens)",
    )


def _curves(report: Mapping[str, Any], i: int) -> str:
    points = report["points"]
    labels = [_label(int(p["context"])) for p in points]
    color = svg.PALETTE[i % len(svg.PALETTE)]
    decode = decode_chart(report, i)
    prefill = svg.lines(
        labels,
        [svg.Series(f"{report['model']} prefill", [p["prefill_tps"] for p in points], color)],
        unit=" tok/s",
        label="prefill tokens per second by context length",
        x_title="context (tokens)",
    )
    memory = svg.columns(
        labels,
        [svg.Series("peak RSS", [p["peak_rss_mb"] for p in points], color)],
        unit=" MB",
        label="peak memory by context length",
    )
    rows = [
        [
            _label(int(p["context"])),
            _num(float(p["prefill_tps"]), 1),
            _num(float(p["decode_tps"]), 1),
            _num(float(p["limit_tps"]), 1),
            _num(float(p["decode_over_limit"]), 2),
            _num(float(p["peak_rss_mb"]), 0),
            _num(float(p["load_average"]), 1),
        ]
        for p in points
    ]
    table = _table(
        ["context", "prefill tok/s", "decode tok/s", "limit tok/s", "decode / limit", "peak RSS MB", "load avg"],
        rows,
        numeric=range(1, 7),
    )
    lead = (
        f"{escape(str(report['model']))}, {report['threads']} threads; memory bandwidth "
        f"{report['copy_bandwidth_gbs']} GB/s (numpy copy); {report['weight_bytes_per_token'] / 1e6:.0f} MB of "
        f"weights and {report['kv_bytes_per_position'] / 1e3:.1f} kB of KV per position read per token."
    )
    return _section(f"Context length: {report['model']}", lead, decode, prefill, memory, table)


def render(reports: Sequence[Mapping[str, Any]]) -> str:
    parts = [
        "<h1>Benchmarks</h1>",
        "<p class=sub>Measured on this computer. Decode is bounded by memory bandwidth: every token reads "
        "all the weights and the whole KV cache; the red line is that bound.</p>",
    ]
    parts += [_curves(r, i) for i, r in enumerate(reports)]
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        "content='width=device-width,initial-scale=1'><title>edgeprompt benchmarks</title>"
        f"<style>{CSS}</style></head><body><main>" + "".join(parts) + "</main></body></html>\n"
    )
