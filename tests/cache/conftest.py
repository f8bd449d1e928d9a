"""Fixtures for the cache tests: a runtime whose embedder is the session's MiniLM export (exported once)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def shared_embedder_export(data_home: Path, embed_cache: Path) -> None:
    """Point this test's data home at the session's MiniLM export, so no test exports it again."""
    (data_home / "cache").mkdir(parents=True, exist_ok=True)
    link = data_home / "cache" / "embed"
    if not link.exists():
        os.symlink(embed_cache / "embed", link)


@pytest.fixture
def rt(data_home: Path) -> Iterator[Any]:
    from edgeprompt.app import Runtime

    r = Runtime.open(data_home)
    yield r
    r.close()


@pytest.fixture
def ask(rt: Any) -> Any:
    """ask(question, **AskRequest fields) runs the pipeline (echo model unless named) -> (result, events)."""
    from edgeprompt.pipeline import AskRequest, Done, run

    def go(question: str, **kw: Any) -> Any:
        events = list(run(AskRequest(question, model=kw.pop("model", "echo"), **kw), rt))
        return next(e.result for e in events if isinstance(e, Done)), events

    return go
