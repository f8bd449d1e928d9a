"""Routing fixtures: a data home whose MiniLM export is the session's one, and a runtime over it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def linked_home(data_home: Path, embed_cache: Path) -> Path:
    """This test's data home, with the session's MiniLM export linked in (no export per test)."""
    cache = data_home / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.symlink(embed_cache / "embed", cache / "embed")
    return data_home


@pytest.fixture
def rrt(linked_home: Path) -> Iterator[Any]:
    from edgeprompt.app import Runtime

    rt = Runtime.open(linked_home)
    yield rt
    rt.close()
