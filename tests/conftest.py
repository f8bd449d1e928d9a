"""Shared fixtures: every test gets its own data home; nothing touches the user's home or the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session", autouse=True)
def shared_embedder_sessions() -> Iterator[None]:
    """One onnxruntime session per (model file, threads, spinning) for the whole test session.

    Building MiniLM's session costs ~0.4 CPU-seconds and a few hundred tests open a runtime that embeds (each
    `Runtime` loads its own `Embedder`): that was a quarter of the fast lane. Every test still gets its own
    `Embedder` object (its own memo of recent vectors, lock and tokenizer, and attributes a test may replace);
    only the sessions, which nothing changes after they are built and which onnxruntime allows to run from
    several threads at once, are shared. The key holds the file's size and mtime, so a model written anew at
    the same path gets a session of its own."""
    from edgeprompt.embed import Embedder

    made: dict[tuple[str, int, int, int, bool], Any] = {}
    build = Embedder._session

    def shared(self: Embedder, spin: bool) -> Any:
        stat = (self.folder / "model.onnx").stat()
        key = (str(self.folder), stat.st_size, stat.st_mtime_ns, self._threads, spin)
        if key not in made:
            made[key] = build(self, spin)  # a model that fails to load raises here, each time, as before
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Embedder, "_session", shared)
        yield


@pytest.fixture(scope="session", autouse=True)
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new data home's database starts as a copy of one migrated once per session.

    `Runtime.open` runs in most tests, on a new data home, and migrating from nothing (17 migrations, each its
    own transaction) was ~13 ms of CPU each time. Each test gets its own copy of the closed, migrated file, so
    nothing written in one test is seen by another; `open_db` still runs on the copy (and finds nothing to
    apply). Only `Runtime.open` is redirected: tests/core/test_store.py calls `open_db` itself, so migrating a
    new file from scratch is still tested there."""
    import contextlib
    import shutil

    import edgeprompt.app
    from edgeprompt.store import migrate

    template = tmp_path_factory.mktemp("migrated") / "edgeprompt.db"
    migrate.open_db(template).close()  # the last close checkpoints the WAL: the file alone is the database

    def open_copy(path: Path) -> Any:
        if not path.exists():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(template, path)
            except OSError:  # an unwritable home: no half-copied file; open_db meets it and raises its own error
                with contextlib.suppress(OSError):
                    path.unlink()
        return migrate.open_db(path)  # looked up now: tests that patch migrate.connect still reach it

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edgeprompt.app, "open_db", open_copy)
        yield template


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
