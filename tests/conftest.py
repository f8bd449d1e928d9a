"""Shared fixtures: every test gets its own data home; nothing touches the user's home or the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")

TESTS = Path(__file__).resolve().parent
# The fast lane (`scripts/test -m "not slow"`) leaves out federation (Flower, Opacus, the simulation engine:
# all of tests/federation) and model building (every test that needs the tiny model, which is trained with
# torch and converted to MLX and ONNX once per session); other slow tests carry @pytest.mark.slow themselves,
# with the reason (docs/development.md: the two lanes).
SLOW_FOLDERS = frozenset({"federation"})
SLOW_FIXTURES = frozenset({"tiny_model", "backend"})  # tests/backends' `backend` loads the tiny model dynamically


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # In the fast lane the slow folders' tests would all be deselected anyway; not importing them saves their
    # module-level torch and Flower imports (seconds of collection). Any other -m expression collects them.
    fast_lane = " ".join((config.option.markexpr or "").split()) == "not slow"
    if fast_lane and collection_path.is_dir() and collection_path.parent == TESTS:
        return collection_path.name in SLOW_FOLDERS or None
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.resolve().relative_to(TESTS).parts[0]
        if folder in SLOW_FOLDERS or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("EDGEPROMPT_HOME", str(home))
    return home


@pytest.fixture
def runtime(data_home: Path) -> Iterator[object]:
    from edgeprompt.app import Runtime

    rt = Runtime.open(data_home)
    yield rt
    rt.close()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from edgeprompt.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def embedder():  # type: ignore[no-untyped-def]
    """The MiniLM embedder shipped in the package."""
    from edgeprompt.embed import Embedder

    return Embedder.load(threads=2)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A very small demo-style model (Llama, local BPE tokenizer, ChatML template, trained for a few steps)
    with hf/, mlx/ and onnx/ folders, built once per session. Returns `edgeprompt.catalog.demo.BuiltModel`:
    `.card` (id "tiny", absolute paths; `runtime.catalog.add(tiny_model.card)` registers it in a test's
    data home), `.hf`, `.mlx`, `.onnx`, `.folder`."""
    from edgeprompt.catalog.demo import build_model
    from edgeprompt.catalog.demo_train import TINY

    return build_model(tmp_path_factory.mktemp("tiny-model") / "tiny", TINY, model_id="tiny")


@pytest.fixture
def embed_home(data_home: Path) -> Path:
    """This test's data home, for tests that embed. The embedder ships in the package, so there is nothing to
    prepare any more (it was once exported into each data home); the name stays so those tests read the same."""
    return data_home
