"""Both real backends over the session's tiny model, each loaded once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def onnx_backend(tiny_model: Any) -> Iterator[Any]:
    from edgeprompt.backends.onnx import OnnxBackend

    backend = OnnxBackend.load(tiny_model.card, threads=2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def mlx_backend(tiny_model: Any) -> Iterator[Any]:
    pytest.importorskip("mlx_lm")
    from edgeprompt.backends.mlx import MlxBackend

    backend = MlxBackend.load(tiny_model.card, threads=2)
    yield backend
    backend.close()


@pytest.fixture(params=["onnx", "mlx"])
def backend(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture
def tiny_home(runtime: Any, tiny_model: Any) -> Any:
    """The test's data home with the tiny model registered as 'tiny'."""
    runtime.catalog.add(tiny_model.card)
    return runtime
