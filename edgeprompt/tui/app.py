"""The Textual app: `edgeprompt` with no arguments (and `scripts/run`) opens it on the chat screen.

Keyboard-first: every screen is one key away (F1-F6), the command palette (ctrl+p) reaches every action,
F10 or ? lists the keys, and long work (generation, indexing, tests, training) runs in worker threads so
input never blocks. Errors become notifications; an unexpected one is also written to
`<home>/logs/tui.log` instead of a traceback on the screen.
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from edgeprompt.app import Runtime
from edgeprompt.tui.commands import SCREENS, EdgepromptCommands

DARK, LIGHT = "textual-dark", "textual-light"


def _screen_factory(mode: str) -> Any:
    def build() -> Any:
        from edgeprompt.tui import chat, documents, federation, observatory, prompts, security

        return {
            "chat": chat.ChatScreen,
            "documents": documents.DocumentsScreen,
            "prompts": prompts.PromptsScreen,
            "security": security.SecurityScreen,
            "observatory": observatory.ObservatoryScreen,
            "federation": federation.FederationScreen,
        }[mode]()

    return build


class EdgepromptApp(App[int]):
    """One runtime per app; screens read and write through it."""

    TITLE = "edgeprompt"
    SUB_TITLE = "offline assistant"
    COMMANDS: ClassVar[set[Any]] = App.COMMANDS | {EdgepromptCommands}
    MODES: ClassVar[dict[str, Any]] = {mode: _screen_factory(mode) for mode, _, _ in SCREENS}
    BINDINGS: ClassVar[list[BindingType]] = [
        *[Binding(f"f{i}", f"switch_mode('{mode}')", title) for i, (mode, title, _) in enumerate(SCREENS, 1)],
        Binding("f10,question_mark", "help", "Help"),
        Binding("ctrl+t,f12", "toggle_dark", "Theme", show=False),
        Binding("ctrl+p", "command_palette", "Palette", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        model: str | None = None,
        runtime: Runtime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime or Runtime.open(home)
        self.model = model
        self._closers: list[Callable[[], None]] = []

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run `fn` when the app ends (stops folder watchers and other long-lived threads)."""
        self._closers.append(fn)

    def on_mount(self) -> None:
        self.switch_mode("chat")

    def action_help(self) -> None:
        from edgeprompt.tui.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.BINDINGS))

    def action_toggle_dark(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def _handle_exception(self, error: Exception) -> None:
        """Under Pilot (headless) a bug must fail the test; in a terminal it is logged and shown as a notification."""
        if self.is_headless or not isinstance(error, Exception) or not self.is_running:
            super()._handle_exception(error)
            return
        log = self.runtime.home / "logs" / "tui.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a", encoding="utf-8") as f:
                f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{''.join(traceback.format_exception(error))}")
        except OSError:
            pass
        self.notify(
            f"{type(error).__name__}: {error}\n(details in {log})",
            title="Something went wrong",
            severity="error",
            timeout=10,
            markup=False,
        )

    def on_unmount(self) -> None:
        for fn in self._closers:
            with contextlib.suppress(Exception):  # closing must go on: the runtime still has to be closed
                fn()
        self.runtime.close()


def run_app(home: str | os.PathLike[str] | None = None, model: str | None = None) -> int:
    app = EdgepromptApp(home, model)
    app.run()
    return int(app.return_code or 0)
