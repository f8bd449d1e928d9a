"""Fixtures for the cache tests: a runtime over the test's data home and a pipeline runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


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
