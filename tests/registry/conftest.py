"""Fixtures of the prompt-registry tests: prompt files on disk and a registry in the test's data home."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

GREET = """
name: greet
description: greets a person by name
system: You are a friendly assistant.
template: "Please greet {{ name }} warmly."
variables: {name: {type: string}}
params: {temperature: 0.2, max_tokens: 128}
tests:
  - vars: {name: Ada}
    assert: [{type: contains, value: Ada}]
"""


@pytest.fixture
def prompt_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a prompt file (dedented YAML) and return its path."""
    made = iter(range(1000))

    def write(text: str = GREET, name: str | None = None) -> Path:
        path = tmp_path / "prompts" / (name or f"p{next(made)}.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def registry(runtime):  # type: ignore[no-untyped-def]
    return runtime.registry()
