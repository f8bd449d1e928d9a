"""Pieces every screen shares: the screen base (runtime access, background jobs whose errors become
notifications), and the small dialogs (confirm, ask for text, pick one, edit text, read text)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DirectoryTree, Header, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option
from textual.worker import Worker

from edgeprompt.tui.footer import KeyFooter

T = TypeVar("T")


def error_text(e: BaseException) -> str:
    """One line for the person: a domain error's own message, else the exception type and message."""
    from edgeprompt.errors import EdgepromptError

    if isinstance(e, EdgepromptError):
        return str(e)
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def short_path(path: str) -> str:
    """A path with the home folder written as ~ (shorter, and the same on every machine)."""
    home = str(Path.home())
    return "~" + path[len(home) :] if path == home or path.startswith(home.rstrip("/") + "/") else path


def report_error(app: Any, title: str, e: BaseException) -> None:
    app.notify(error_text(e), title=title, severity="error", timeout=8, markup=False)


class EdgeScreen(Screen[None]):
    """A mode's screen: header, footer, the runtime, and `background` for anything that takes time."""

    @property
    def rt(self) -> Any:
        return self.app.runtime  # type: ignore[attr-defined]

    def header(self) -> ComposeResult:
        yield Header(icon="◆")

    def footer(self) -> ComposeResult:
        yield KeyFooter()

    def background(
        self,
        job: Callable[[], T],
        done: Callable[[T], Any] | None = None,
        *,
        title: str,
        group: str = "default",
        exclusive: bool = False,
    ) -> Worker[None]:
        """Run `job` in a worker thread; `done(result)` runs on the UI thread; any error becomes a notification
        titled `title` (never a traceback)."""
        app = self.app

        def body() -> None:
            try:
                result = job()
            except Exception as e:  # every error in a worker becomes a notification
                app.call_from_thread(report_error, app, title, e)
                return
            if done is not None:
                app.call_from_thread(self._finish, done, result, title)

        return self.run_worker(body, name=title, group=group, exclusive=exclusive, thread=True, exit_on_error=False)

    def _finish(self, done: Callable[[T], Any], result: T, title: str) -> None:
        try:
            shown = done(result)
        except Exception as e:  # showing a result must not crash the app either
            report_error(self.app, title, e)
            return
        if inspect.isawaitable(shown):
            self.run_worker(self._settle(shown, title), exit_on_error=False)

    async def _settle(self, shown: Awaitable[Any], title: str) -> None:
        try:
            await shown
        except Exception as e:
            report_error(self.app, title, e)


class Dialog(ModalScreen[T]):
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical { width: 76; max-width: 96%; height: auto; max-height: 90%; border: thick $primary;
                        background: $surface; padding: 1 2; }
    Dialog .title { text-style: bold; margin-bottom: 1; }
    Dialog .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    Dialog Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConfirmScreen(Dialog[bool]):
    """Yes or no; `y`/Enter confirms, `n`/Esc refuses."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, body: str = "", yes: str = "Yes") -> None:
        super().__init__()
        self.title_text, self.body, self.yes = title, body, yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            if self.body:
                with VerticalScroll(classes="body"):
                    yield Static(Text(self.body))
            with Horizontal(classes="buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class AskScreen(Dialog[str]):
    """One line of text (a title, a path, an address); Enter accepts, Esc cancels (None)."""

    def __init__(self, title: str, value: str = "", placeholder: str = "", body: str = "") -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder, self.body = title, value, placeholder, body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            if self.body:
                yield Static(Text(self.body))
            yield Input(self.value, placeholder=self.placeholder, id="answer")

    @on(Input.Submitted, "#answer")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class PathScreen(Dialog[str]):
    """A path: typed, or picked in the folder tree below (Enter on a file or folder fills the box)."""

    DEFAULT_CSS = """
    PathScreen DirectoryTree { height: 12; margin-top: 1; }
    """

    def __init__(self, title: str, root: Path | None = None, value: str = "") -> None:
        super().__init__()
        self.title_text, self.root, self.value = title, root or Path.home(), value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(self.value, placeholder="a file or folder path (~ works)", id="answer")
            yield DirectoryTree(self.root, id="tree")

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def picked(self, event: DirectoryTree.FileSelected | DirectoryTree.DirectorySelected) -> None:
        box = self.query_one("#answer", Input)
        box.value = str(event.path)
        box.focus()

    @on(Input.Submitted, "#answer")
    def submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.dismiss(str(Path(text).expanduser()) if text else None)


class PickScreen(Dialog[str]):
    """One choice from a list of (value, label) pairs."""

    DEFAULT_CSS = """
    PickScreen .title { width: 100%; }
    """

    def __init__(self, title: str, choices: Sequence[tuple[str, str | Text]], current: str | None = None) -> None:
        super().__init__()
        self.title_text, self.choices, self.current = title, choices, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield OptionList(*(Option(label, id=value) for value, label in self.choices), id="choices")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        ids = [v for v, _ in self.choices]
        if self.current in ids:
            options.highlighted = ids.index(self.current)

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class EditScreen(Dialog[str]):
    """Edit a block of text: ctrl+s saves, Esc cancels."""

    DEFAULT_CSS = """
    EditScreen TextArea { height: 16; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "dismiss_none", "Cancel"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.title_text}  (ctrl+s save · esc cancel)", classes="title")
            yield TextArea(self.text, id="editor", soft_wrap=True)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)


class TextScreen(Dialog[None]):
    """Read-only text (a source preview, a diff, a test report); Esc or q closes."""

    DEFAULT_CSS = """
    TextScreen > Vertical { width: 110; height: 90%; }
    TextScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss_none", "Close")]

    def __init__(self, title: str, body: Text | str, scroll_to_line: int = 0) -> None:
        super().__init__()
        self.title_text, self.body, self.line = title, body, scroll_to_line

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(self.title_text), classes="title")
            with VerticalScroll(id="text"):
                yield Static(self.body if isinstance(self.body, Text) else Text(self.body))

    def on_mount(self) -> None:
        scroll = self.query_one("#text", VerticalScroll)
        scroll.focus()
        if self.line > 3:
            self.call_after_refresh(scroll.scroll_to, 0, self.line - 3, animate=False)


def diff_text(diff: str) -> Text:
    """A unified diff coloured line by line (added green, removed red, hunks blue)."""
    out = Text()
    for line in diff.splitlines():
        style = (
            "green"
            if line.startswith("+") and not line.startswith("+++")
            else "red"
            if line.startswith("-") and not line.startswith("---")
            else "bold blue"
            if line.startswith("@@")
            else ""
        )
        out.append(line + "\n", style=style)
    return out
