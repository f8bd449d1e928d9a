"""The app factory: an `EdgepromptApp` on this test's data home (with the session's MiniLM export linked in)
and the echo backend unless a test names another model. HOME points into the test folder too, so paths
shown as ~/… are the same on every machine, and TZ is UTC so shown times are stable."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeprompt.tui.app import EdgepromptApp


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    return home


@pytest.fixture
def make_app(embed_home: Path, user_home: Path) -> Callable[..., EdgepromptApp]:
    def make(model: str | None = "echo") -> EdgepromptApp:
        return EdgepromptApp(embed_home, model=model)

    return make
