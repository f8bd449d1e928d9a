"""Observatory fixtures: a runtime over the test's data home (MiniLM ships in the package, so
`observe.signals` embeds), and helpers to drive questions through the real pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def obs_rt(data_home: Path) -> Iterator[Any]:
    from edgeprompt.app import Runtime

    rt = Runtime.open(data_home)
    yield rt
    rt.close()
