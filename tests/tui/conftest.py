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
    """`offer=False` (the default) records that the first-start model offer was skipped, so a test without a
    language model (model=None) is not met by the offer's dialog; the offer's own tests pass offer=True."""

    def make(model: str | None = "echo", offer: bool = False) -> EdgepromptApp:
        app = EdgepromptApp(embed_home, model=model)
        if not offer:
            app.runtime.first_run().decline()
        return app

    return make
