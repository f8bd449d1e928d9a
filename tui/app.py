"""The Textual app: `edgeprompt` with no arguments (and `scripts/run`) opens it on the chat screen.

Keyboard-first: every screen is one key away, the command palette (ctrl+p) reaches every action, and long
work (generation, indexing, tests, training) runs in worker threads so input never blocks.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from edgeprompt.runtime import Runtime


class EdgepromptApp(App[int]):
    """One runtime per app; screens read and write through it."""

    TITLE = "edgeprompt"
    SUB_TITLE = "offline assistant"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "switch_mode('chat')", "Chat"),
        Binding("f12", "toggle_dark", "Theme", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, home: str | os.PathLike[str] | None = None, model: str | None = None,
                 runtime: Runtime | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime or Runtime.open(home)
        self.model = model

    def on_mount(self) -> None:
        from edgeprompt.tui.chat import ChatScreen

        self.add_mode("chat", lambda: ChatScreen())
        self.switch_mode("chat")

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def on_unmount(self) -> None:
        self.runtime.close()


def run_app(home: str | os.PathLike[str] | None = None, model: str | None = None) -> int:
    app = EdgepromptApp(home, model)
    app.run()
    return int(app.return_code or 0)
