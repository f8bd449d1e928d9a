"""The benchmark page renders scripts/bench_context's report: curves, limit line, memory and the table."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from edgeprompt.observatory.bench_page import decode_chart, render


def point(context: int, decode: float, limit: float) -> dict[str, float]:
    return {
        "context": context,
        "threads": 2,
        "prefill_s": context / 200,
        "prefill_tps": 200.0,
        "decode_tps": decode,
        "peak_rss_mb": 400 + context / 50,
        "loaded_rss_mb": 380.0,
        "load_average": 1.2,
        "limit_tps": limit,
        "decode_over_limit": round(decode / limit, 3),
    }


REPORT = {
    "model": "random 0.5B <int4>",
    "folder": "/m",
    "threads": 2,
    "decode_tokens": 32,
    "copy_bandwidth_gbs": 28.5,
    "weight_bytes_per_token": 330_000_000,
    "kv_bytes_per_position": 49_152,
    "points": [point(512, 42.0, 84.0), point(2048, 50.0, 79.0), point(16384, 31.0, 46.0)],
}


def test_the_page_draws_decode_against_the_bandwidth_limit() -> None:
    page = render([REPORT])
    assert page.startswith("<!doctype html>") and page.count("<svg") == 3  # decode, prefill, memory
    assert "bandwidth limit" in page and "random 0.5B &lt;int4&gt;" in page  # names are escaped
    assert all(label in page for label in (">512<", ">2k<", ">16k<"))
    assert ">0.50<" in page and "28.5 GB/s" in page  # decode / limit at 512, the measured bandwidth


def test_the_decode_curve_is_a_standalone_svg_image() -> None:
    """`scripts/bench_context --svg` writes this file for the README: it must parse on its own."""
    root = ET.fromstring(decode_chart(REPORT))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = "".join(root.itertext())
    assert "bandwidth limit" in texts and "16k" in texts
