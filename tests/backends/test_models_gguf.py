"""`models add FILE.gguf`: a GGUF written here as llama.cpp writes one (llama metadata, Q8_0 tensors, a BPE
tokenizer with its merges and chat template) imports as an int4 onnxruntime-genai folder and answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from arch_models import hf_folder
from gguf_writer import write

pytest.importorskip("gguf")
pytest.importorskip("onnx_ir")
pytestmark = pytest.mark.slow  # every test here builds a model (and two convert it)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the GGUF file, the Hugging Face folder it was written from)."""
    root = tmp_path_factory.mktemp("gguf")
    hf = hf_folder("smollm2", root / "hf")
    return write(hf, root / "tiny-llama-Q8_0.gguf"), hf


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2 and out == "" and "Traceback" not in err, (code, out, err)
    return err.strip().splitlines()[-1]


def test_a_gguf_imports_as_int4_onnx_and_answers(cli: Any, tiny_gguf: tuple[Path, Path], data_home: Path) -> None:
    from tokenizers import Tokenizer

    gguf, hf = tiny_gguf
    code, out, err = cli("models", "add", str(gguf), "--json")
    assert code == 0, err
    card = json.loads(out)
    assert card["id"] == "tiny-llama-Q8_0" and card["quantization"] == "onnx int4"
    assert set(card["paths"]) == {"onnx"}  # the 16-bit intermediate folder is gone
    folder = Path(card["paths"]["onnx"])
    assert folder.parent == data_home / "models" / "tiny-llama-Q8_0" and not (folder.parent / "hf").exists()
    assert gguf.exists()  # the user's file is left alone
    text = "Where are the sample documents? 42 of them."
    rebuilt = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # the tokenizer came back from the metadata
    assert rebuilt.encode(text).ids == Tokenizer.from_file(str(hf / "tokenizer.json")).encode(text).ids

    code, out, err = cli("ask", "hello", "-m", "tiny-llama-Q8_0", "--max-tokens", "8", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["backend"] == "onnx" and answer["usage"]["completion_tokens"] > 0


def test_bad_gguf_inputs(cli: Any, tmp_path: Path, tiny_gguf: tuple[Path, Path]) -> None:
    fake = tmp_path / "notes.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    assert "is not a GGUF file" in one_line_error(*cli("models", "add", str(fake)))
    assert "no such file" in one_line_error(*cli("models", "add", str(tmp_path / "missing.gguf")))
    gguf, _ = tiny_gguf
    assert "invalid model id" in one_line_error(*cli("models", "add", str(gguf), "--id", "bad id"))


def test_the_space_check_counts_the_dequantised_copy(tmp_path: Path, tiny_gguf: tuple[Path, Path]) -> None:
    from edgeprompt.catalog.gguf_import import check_space
    from edgeprompt.errors import NoSpaceError

    gguf, _ = tiny_gguf
    with pytest.raises(NoSpaceError, match="needs about"):
        check_space(gguf, tmp_path, free=gguf.stat().st_size * 2)
    check_space(gguf, tmp_path, free=gguf.stat().st_size * 10)
