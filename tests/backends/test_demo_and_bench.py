"""The demo model build (at test size) and `edgeprompt bench` on the tiny model."""

from __future__ import annotations

import json
from typing import Any

import pytest

BENCH_KEYS = {
    "model",
    "backend",
    "threads",
    "bandwidth_gbs",
    "weight_bytes_per_token",
    "kv_bytes_per_token",
    "limit_tps",
    "generation_tps_raw",
    "prompt_tps_raw",
    "generation_tps_pipeline",
    "ratio",
    "peak_rss_mb",
    "prompt_tokens",
    "completion_tokens",
}


@pytest.mark.slow  # builds and trains the demo model
def test_ensure_demo_builds_registers_and_becomes_default(runtime: Any) -> None:
    from edgeprompt.catalog.demo import demo_ready, ensure_demo
    from edgeprompt.catalog.demo_train import TINY

    assert not demo_ready(runtime.catalog)
    assert runtime.default_model_id() != "demo"
    lines: list[str] = []
    card = ensure_demo(runtime.catalog, runtime.threads, progress=lines.append, spec=TINY)
    assert demo_ready(runtime.catalog)
    assert card.id == "demo" and card.backend == "auto" and "toy" in card.description
    assert card.paths == {"hf": "demo/hf", "mlx": "demo/mlx", "onnx": "demo/onnx"}  # portable with the home
    assert card.path_for("onnx") == runtime.paths.models / "demo" / "onnx"
    assert runtime.default_model_id() == "demo"
    assert any("ready" in line for line in lines)
    leftovers = [p.name for p in runtime.paths.models.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    again = ensure_demo(runtime.catalog, runtime.threads, spec=TINY)  # second call: nothing to do
    assert again == runtime.catalog.get("demo")


@pytest.mark.parametrize("kind", ["onnx", "mlx"])
def test_bench_reports_every_figure(cli: Any, tiny_home: Any, kind: str) -> None:
    code, out, err = cli("bench", "-m", "tiny", "--backend", kind, "--runs", "1", "--max-tokens", "8", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) >= BENCH_KEYS
    assert report["backend"] == kind and report["model"] == "tiny"
    assert report["bandwidth_gbs"] > 0 and report["weight_bytes_per_token"] > 0 and report["limit_tps"] > 0
    assert report["generation_tps_raw"] > 0 and report["generation_tps_pipeline"] > 0 and report["ratio"] > 0
    assert report["peak_rss_mb"] > 0


def test_bench_rejects_bad_flags(cli: Any, tiny_home: Any) -> None:
    code, _, err = cli("bench", "-m", "tiny", "--runs", "0")
    assert code == 2 and "--runs" in err


def test_onnx_bytes_per_token_counts_the_weights(tiny_model: Any) -> None:
    from edgeprompt.backends.onnx import weight_bytes
    from edgeprompt.catalog.bench import onnx_bytes_per_token

    per_token = onnx_bytes_per_token(tiny_model.onnx)
    assert 0 < per_token <= weight_bytes(tiny_model.onnx)
