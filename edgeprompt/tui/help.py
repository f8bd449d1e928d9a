"""The help screen (F10 or ?): every key, per screen, read from the bindings themselves so it never drifts."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Static

from edgeprompt.tui.widgets import Dialog

KEY_NAMES = {
    "plus": "+",
    "minus": "-",
    "equals_sign": "=",
    "slash": "/",
    "question_mark": "?",
    "escape": "esc",
    "delete": "del",
    "up": "↑",
    "down": "↓",
    "enter": "enter",
}


def key_text(keys: str) -> str:
    return " ".join(KEY_NAMES.get(k, k) for k in keys.split(","))


def sections(everywhere: list[Any]) -> list[tuple[str, list[Any]]]:
    """Each screen's keys; `everywhere` is the app's own bindings (the app opens this screen and passes them)."""
    from edgeprompt.tui.bubbles import Bubble
    from edgeprompt.tui.chat import ChatScreen
    from edgeprompt.tui.documents import DocumentsScreen
    from edgeprompt.tui.federation import FederationScreen
    from edgeprompt.tui.observatory import ObservatoryScreen
    from edgeprompt.tui.prompts import PromptsScreen
    from edgeprompt.tui.security import SecurityScreen
    from edgeprompt.tui.sessions import SessionList

    return [
        ("Everywhere", everywhere),
        ("Chat", ChatScreen.BINDINGS),
        ("Chat · a selected answer", Bubble.BINDINGS),
        ("Chat · the session list", SessionList.BINDINGS),
        ("Documents", DocumentsScreen.BINDINGS),
        ("Prompts", PromptsScreen.BINDINGS),
        ("Security", SecurityScreen.BINDINGS),
        ("Observatory", ObservatoryScreen.BINDINGS),
        ("Federation", FederationScreen.BINDINGS),
    ]


def bindings_text(title: str, bindings: list[Any]) -> Text:
    out = Text(title + "\n", style="bold underline")
    for b in bindings:
        if isinstance(b, Binding) and b.description:
            out.append(f"  {key_text(b.key):<16}", style="bold cyan")
            out.append(b.description + "\n")
    return out


class HelpScreen(Dialog[None]):
    DEFAULT_CSS = """
    HelpScreen > Vertical { width: 90; height: 90%; }
    HelpScreen VerticalScroll { height: 1fr; }
    HelpScreen Static { margin-bottom: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,f10,question_mark", "dismiss_none", "Close")]

    def __init__(self, everywhere: list[Any]) -> None:
        super().__init__()
        self.everywhere = everywhere

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                "Keys  ·  ctrl+p opens the command palette (every action by name)  ·  esc closes", classes="title"
            )
            with VerticalScroll(id="help-body"):
                for title, bindings in sections(self.everywhere):
                    yield Static(bindings_text(title, bindings))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
