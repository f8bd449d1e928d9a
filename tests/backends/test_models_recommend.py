"""`models recommend`, what `setup` offers (consent first), `doctor`'s language-model check, and the default
model: a pulled model answers by default, the toy only with -m demo or when nothing else is there."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from edgeprompt.catalog.cards import ModelCard
from edgeprompt.catalog.pull import HUB_ID_RE
from edgeprompt.catalog.recommend import ModelChoice, choices, recommend

GIB = 1024**3


def test_the_shipped_list_is_complete_and_honest() -> None:
    entries = choices()
    for c in entries:
        assert c.backend in ("onnx", "mlx") and c.format in ("onnx", "mlx", "hf") and HUB_ID_RE.match(c.repo)
        assert c.license and c.download_gb > 0 and c.size_gb > 0
    for backend in ("onnx", "mlx"):
        ids = [c.id for c in entries if c.backend == backend]
        assert len(ids) == len(set(ids))
        assert len([c for c in entries if c.backend == backend and c.format != "hf"]) >= 3  # ready without build
    assert all(c.format in ("mlx",) for c in entries if c.backend == "mlx")


def test_memory_at_4k_is_weights_plus_kv_cache_plus_overhead() -> None:
    llama3b = ModelChoice("l", "onnx", "a/b", "onnx", 3.2, 2.6, 2.6, 28, 8, 128, "x")
    assert llama3b.memory_gb == 3.4  # 2.6 + 2*28*8*128*4096*2 bytes (0.47 GB) + 0.3
    assert llama3b.speed == "slow"
    assert ModelChoice("q", "mlx", "a/b", "mlx", 0.5, 0.3, 0.3, 24, 2, 64, "x").speed == "fast"


# 8 GiB without the build tools: the ready-made ORT folders that fit are 0.5B and 3B ones (Phi-3.5's 1.6 GB
# KV cache at 4k takes it past 4 GB)
@pytest.mark.parametrize(
    ("ram_gib", "backend", "build", "least"),
    [(8, "onnx", False, 2), (8, "onnx", True, 5), (16, "onnx", True, 6), (8, "mlx", False, 6), (32, "mlx", False, 6)],
)
def test_recommend_fits_half_the_memory(ram_gib: int, backend: str, build: bool, least: int) -> None:
    picks = recommend(ram_gib * GIB, backend, build)
    assert least <= len(picks) <= 6
    assert all(c.backend == backend and c.memory_gb <= ram_gib * GIB / 2 / 1e9 for c in picks)
    assert build or all(c.format != "hf" for c in picks)
    assert [c.params_b for c in picks] == sorted(c.params_b for c in picks)
    assert recommend(1 * GIB, backend, build) == []  # nothing fits in 0.5 GB


def test_recommend_cli(cli: Any) -> None:
    code, out, err = cli("models", "recommend", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["backend"] in ("onnx", "mlx") and 1 <= len(got["models"]) <= 6
    first = got["models"][0]
    assert {"repo", "download_gb", "memory_gb_4k", "speed", "license", "pull"} <= set(first)
    code, out, _ = cli("models", "recommend")
    assert code == 0 and "REPOSITORY" in out and "MEM@4K" in out and "LICENCE" in out and first["repo"] in out


def _real_card(runtime: Any, tmp_path: Path, model_id: str = "qwen-real") -> ModelCard:
    (tmp_path / model_id / "onnx").mkdir(parents=True)
    return runtime.catalog.add(
        ModelCard(id=model_id, paths={"onnx": str(tmp_path / model_id / "onnx")}, tags=("general",))
    )


def test_doctor_warns_without_a_language_model_and_a_pulled_one_is_the_default(
    cli: Any, runtime: Any, tmp_path: Path
) -> None:
    code, out, _ = cli("doctor", "--json")
    check = {c["name"]: c for c in json.loads(out)["checks"]}["language model"]
    assert code == 0 and check["status"] == "warn" and "edgeprompt models recommend" in check["detail"]
    toy = ModelCard(id="demo", tags=("general", "demo"), paths={"onnx": str(tmp_path)})
    runtime.catalog.add(toy)
    assert runtime.default_model_id() == "demo"  # only the toy: it stays the fallback
    _real_card(runtime, tmp_path)
    assert runtime.default_model_id() == "qwen-real"
    code, out, _ = cli("doctor", "--json")
    check = {c["name"]: c for c in json.loads(out)["checks"]}["language model"]
    assert check["status"] == "ok" and check["models"] == ["qwen-real"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.slow  # the first-run setup end to end
def test_setup_offers_models_only_with_consent(
    cli: Any, monkeypatch: pytest.MonkeyPatch, embed_home: Path, runtime: Any, tmp_path: Path
) -> None:
    code, _, err = cli("setup", "--no-demo")  # not a terminal: a hint, no question, no download
    assert code == 0 and "edgeprompt models recommend" in err and "download one now" not in err
    code, _, err = cli("setup", "--no-demo", "--offline")
    assert code == 0 and "models recommend" not in err

    monkeypatch.setattr(sys, "stdin", _Terminal("\n"))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = cli("setup", "--no-demo")
    assert code == 0 and out.startswith("ready") is False
    assert "download one now?" in err and "  1. " in err and "skipped" in err
    assert (embed_home / "models" / ".offer-declined").exists()
    assert not [p for p in (embed_home / "models").iterdir() if p.is_dir()]  # nothing was downloaded
    code, _, err = cli("setup", "--no-demo", "--quiet-if-ready")  # asked once: scripts/run stays quiet
    assert code == 0 and "download one now?" not in err and "recommend" not in err

    (embed_home / "models" / ".offer-declined").unlink()
    _real_card(runtime, tmp_path)  # with a language model installed nothing is offered
    monkeypatch.setattr(sys, "stdin", _Terminal("1\n"))
    code, _, err = cli("setup", "--no-demo")
    assert code == 0 and "download one now?" not in err and "recommend" not in err
