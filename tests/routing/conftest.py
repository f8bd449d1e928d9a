"""Routing fixtures: the test's data home and a runtime over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def linked_home(data_home: Path) -> Path:
    """This test's data home (it once had a shared MiniLM export linked in; MiniLM now ships in the package)."""
    return data_home


@pytest.fixture
def rrt(linked_home: Path) -> Iterator[Any]:
    from edgeprompt.app import Runtime

    rt = Runtime.open(linked_home)
    yield rt
    rt.close()
