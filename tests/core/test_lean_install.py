"""A core install without the build tools (no torch): setup goes on without the demo model, and commands that
need an extra say which one in one line instead of a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def no_build_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edgeprompt.catalog.extras.have_build_tools", lambda: False)
    monkeypatch.setattr("edgeprompt.catalog.extras.have_mlx", lambda: False)
    monkeypatch.setattr("edgeprompt.catalog.cards.apple_silicon", lambda: False)


def test_models_demo_names_the_extras_it_needs(cli: Any, no_build_tools: None) -> None:
    code, out, err = cli("models", "demo")
    assert code == 2 and out == ""
    assert err.strip() == (
        "edgeprompt: building the demo model needs the build tools: pip install 'edgeprompt[build,mlx]'"
    )


def test_setup_skips_the_demo_model_and_still_prepares_the_home(
    cli: Any, no_build_tools: None, embed_home: Path
) -> None:
    code, _, err = cli("setup", "--offline")
    assert code == 0, err
    assert "pip install 'edgeprompt[build,mlx]' (skipped)" in err
    assert not (embed_home / "models" / "demo").exists()
    code, out, _ = cli("docs", "list", "--json")
    assert code == 0 and "lease-oak-street-2023.md" in out  # the sample documents were indexed anyway


def test_a_missing_optional_module_becomes_a_pip_hint() -> None:
    from edgeprompt.catalog.extras import missing_extra

    assert missing_extra(ModuleNotFoundError("No module named 'torch'", name="torch")) == (
        "this needs torch, from the build extra: pip install 'edgeprompt[build]'"
    )
    assert missing_extra(ModuleNotFoundError("x", name="flwr.server")) is not None
    assert missing_extra(ModuleNotFoundError("x", name="some_unknown_module")) is None
