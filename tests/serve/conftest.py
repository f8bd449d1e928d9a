"""A real server on 127.0.0.1 (an ephemeral port), started and stopped inside each test that asks for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def serve(embed_home: Path) -> Iterator[Callable[..., Any]]:
    """`serve(config="", **options) -> Running` (`.url`, `.api`, `.rt`): this test's data home, MiniLM linked in,
    served by a real uvicorn on a background thread; every server is stopped (drained) at the end."""
    from edgeprompt.app import Runtime
    from edgeprompt.serve.app import ServeOptions
    from edgeprompt.serve.server import start

    started: list[tuple[Any, Any]] = []

    def make(config: str = "", setup: Callable[[Any], None] | None = None, **options: Any) -> Any:
        if config:
            write_config(embed_home, config)
        rt = Runtime.open(embed_home)
        if setup is not None:
            setup(rt)
        running = start(rt, ServeOptions(**options))
        running.rt = rt  # type: ignore[attr-defined]
        running.api = running.server.config.app.state.api  # type: ignore[attr-defined]
        started.append((running, rt))
        return running

    yield make
    for running, rt in started:
        running.stop()
        rt.close()


@pytest.fixture
def client() -> Callable[[Any], Any]:
    """The real `openai` client pointed at a running server."""
    import openai

    return lambda running, key="none": openai.OpenAI(base_url=running.url, api_key=key, max_retries=0, timeout=60)
