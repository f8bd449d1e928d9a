"""Observatory fixtures: a runtime whose data home already has MiniLM (so `observe.signals` embeds), and
helpers to drive questions through the real pipeline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def linked_embedder(data_home: Path, embed_cache: Path) -> Path:
    """Point this data home's MiniLM export at the session's one (as if `docs add` had set it up). Every
    request needs it (the cache's semantic level embeds the question), and exporting it again per test
    would take ~25 s each."""
    cache = data_home / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.symlink(embed_cache / "embed", cache / "embed")
    return cache / "embed"


@pytest.fixture
def obs_rt(linked_embedder: Path, data_home: Path) -> Iterator[Any]:
    from edgeprompt.app import Runtime

    rt = Runtime.open(data_home)
    yield rt
    rt.close()
