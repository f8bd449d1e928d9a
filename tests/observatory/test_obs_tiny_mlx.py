"""Confidence from a real model: the tiny MLX model's per-token log-probabilities and entropies reach the
report, per model, with the low-confidence flag at a threshold we choose."""

from __future__ import annotations

import json
from typing import Any

import pytest
from obs_helpers import ask, pct

from edgeprompt.backends.base import GenerationParams
from edgeprompt.observatory.report import build_report

QUESTIONS = (
    "What is edgeprompt?",
    "How do I add documents?",
    "Tell me about the cache.",
    "Which model runs here?",
    "What does the firewall do?",
)


def test_tiny_mlx_confidence_reaches_the_report(obs_rt: Any, tiny_model: Any) -> None:
    rt = obs_rt
    rt.catalog.add(tiny_model.card)
    params = GenerationParams(max_tokens=12, temperature=0.0)
    results = [ask(rt, q, model="tiny", backend="mlx", params=params) for q in QUESTIONS]
    assert all(r.backend == "mlx" and r.confidence for r in results)
    stored = {}
    for r in results:
        (attrs,) = [
            json.loads(a)
            for (a,) in rt.db.query(
                "SELECT attributes FROM trace_spans WHERE trace_id = ? AND name = 'generate'", (r.trace_id,)
            )
        ]
        stored[r.trace_id] = (attrs["edgeprompt.confidence.mean_logprob"], attrs["edgeprompt.confidence.mean_entropy"])
        assert attrs["edgeprompt.confidence.mean_logprob"] == pytest.approx(r.confidence["mean_logprob"], abs=1e-4)
    lps = [v[0] for v in stored.values()]
    assert all(v < 0 for v in lps)  # a real distribution, not echo's certainty
    threshold = pct(lps, 50)  # flag the less sure half
    section = {**rt.settings.section("observatory"), "low_confidence_logprob": threshold}
    rep = build_report(rt.db, section, 0.0)
    c = rep["confidence"]
    (tiny,) = [g for g in c["by_model"] if g["key"] == "tiny"]
    assert tiny["mean_logprob"]["n"] == 5
    assert tiny["mean_logprob"]["mean"] == pytest.approx(sum(lps) / 5, abs=1e-4)
    assert tiny["mean_logprob"]["p50"] == pytest.approx(pct(lps, 50), abs=1e-4)
    assert tiny["mean_entropy"]["mean"] == pytest.approx(sum(v[1] for v in stored.values()) / 5, abs=1e-4)
    low = sorted((tid for tid, v in stored.items() if v[0] < threshold), key=lambda t: stored[t][0])
    assert c["low"] == {"count": len(low), "examples": low} and rep["failures"]["low_confidence"]["count"] == len(low)
    (m,) = [m for m in rep["models"] if m["model"] == "tiny"]
    assert m["requests"] == 5 and m["output_tokens"] == sum(r.usage["completion_tokens"] for r in results)
    assert m["tokens_per_s"]["n"] == sum(1 for r in results if r.timings["tokens_per_s"] > 0)
