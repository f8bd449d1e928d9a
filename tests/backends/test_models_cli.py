"""`models add | info | convert | pull | demo` and `ask` against real model folders, and their errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

ASK_KEYS = {
    "answer",
    "model",
    "session_id",
    "trace_id",
    "usage",
    "timings",
    "cached",
    "citations",
    "verdicts",
    "abstained",
    "finish_reason",
    "backend",
    "context",
    "notices",
    "confidence",
}


def one_line_error(code: int, out: str, err: str) -> str:
    """Exit 2, nothing on stdout, and one error line on stderr (after any progress lines), no traceback."""
    assert code == 2, (code, out, err)
    assert out == ""
    errors = [ln for ln in err.strip().splitlines() if ln.startswith("edgeprompt: ")]
    assert len(errors) == 1 and err.strip().endswith(errors[0]) and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize("kind", ["onnx", "mlx"])
def test_ask_json_through_the_pipeline(cli: Any, tiny_home: Any, kind: str) -> None:
    code, out, err = cli("ask", "hello", "-m", "tiny", "--backend", kind, "--max-tokens", "12", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) >= ASK_KEYS
    assert result["model"] == "tiny" and result["backend"] == kind
    assert result["finish_reason"] in ("stop", "length")
    assert 0 < result["usage"]["completion_tokens"] <= 12
    assert result["usage"]["prompt_tokens"] == result["context"]["prompt_tokens"]
    assert result["timings"]["ttft_ms"] > 0
    if kind == "mlx":
        assert "mean_logprob" in result["confidence"]


def test_add_a_real_folder_then_info(cli: Any, tiny_model: Any) -> None:
    code, out, err = cli("models", "add", str(tiny_model.onnx), "--id", "t-onnx", "--json")
    assert code == 0, err
    card = json.loads(out)
    assert card["id"] == "t-onnx" and "onnx" in card["paths"]
    code, out, _ = cli("models", "info", "t-onnx", "--json")
    assert code == 0 and json.loads(out)["exists"] == {"onnx": True}


def test_add_missing_folder(cli: Any, tmp_path: Path) -> None:
    line = one_line_error(*cli("models", "add", str(tmp_path / "nope")))
    assert "no such folder" in line


def test_add_corrupt_folders(cli: Any, tiny_model: Any, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_model.hf, truncated)
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert "truncated or corrupt" in one_line_error(*cli("models", "add", str(truncated)))

    broken = tmp_path / "broken-onnx"
    shutil.copytree(tiny_model.onnx, broken)
    (broken / "genai_config.json").write_text("{not json", encoding="utf-8")
    assert "not JSON" in one_line_error(*cli("models", "add", str(broken)))

    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a model folder" in one_line_error(*cli("models", "add", str(empty)))


def test_a_card_whose_folder_went_away(cli: Any, tiny_model: Any, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(tiny_model.onnx, moved)
    assert cli("models", "add", str(moved), "--id", "gone")[0] == 0
    (moved / "model.onnx").unlink()
    line = one_line_error(*cli("ask", "hello", "-m", "gone"))
    assert "model.onnx is missing" in line


def test_unknown_model_id(cli: Any) -> None:
    for argv in (
        ("models", "info", "nope"),
        ("ask", "hi", "-m", "nope"),
        ("models", "convert", "nope", "--to", "onnx"),
        ("bench", "-m", "nope"),
    ):
        assert "Unknown model 'nope'" in one_line_error(*cli(*argv))


def test_pull_offline_says_so(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = one_line_error(*cli("models", "pull", "Qwen/Qwen2.5-0.5B-Instruct"))
    assert "cannot download Qwen/Qwen2.5-0.5B-Instruct" in line and "offline" in line


def test_pull_rejects_a_bad_id(cli: Any) -> None:
    assert "not a Hugging Face model id" in one_line_error(*cli("models", "pull", "no-slash"))


@pytest.mark.parametrize(
    ("fmt", "bits", "folder", "label"), [("onnx", "4", "onnx-int4", "onnx int4"), ("mlx", "8", "mlx-8bit", "mlx 8bit")]
)
def test_convert_updates_the_card_and_the_folder_runs(
    cli: Any, tiny_home: Any, fmt: str, bits: str, folder: str, label: str
) -> None:
    code, out, err = cli("models", "convert", "tiny", "--to", fmt, "--bits", bits, "--json")
    assert code == 0, err
    card = json.loads(out)
    new = Path(card["paths"][fmt])
    assert new.name == folder and new.parent == tiny_home.paths.models / "tiny"
    assert label in card["quantization"]
    assert not [p for p in new.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    code, out, err = cli("ask", "hello", "-m", "tiny", "--backend", fmt, "--max-tokens", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["backend"] == fmt


def test_convert_needs_an_hf_folder(cli: Any, tiny_model: Any) -> None:
    assert cli("models", "add", str(tiny_model.onnx), "--id", "only-onnx")[0] == 0
    assert "no Hugging Face (hf) folder" in one_line_error(*cli("models", "convert", "only-onnx", "--to", "mlx"))
