"""The session list beside the chat: search box, newest first; Enter opens, r renames, Delete deletes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, ListItem, ListView

from edgeprompt.store.sessions import KINDS
from edgeprompt.tui.widgets import AskScreen, ConfirmScreen, report_error

LIST_LIMIT = 200


TITLE_WIDTH = 24  # the panel is 28 columns: border, padding and the list's own margin take the rest


def clip(text: str, width: int = TITLE_WIDTH) -> str:
    """One line of at most `width` characters; a cut one ends in an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def when(ts: float, now: float | None = None) -> str:
    """A short date: the time today, the day and month this year, the full date before."""
    then, today = time.localtime(ts), time.localtime(now if now is not None else time.time())
    if then[:3] == today[:3]:
        return time.strftime("today %H:%M", then)
    return time.strftime("%d %b %H:%M" if then.tm_year == today.tm_year else "%d %b %Y", then)


def session_label(s: Any) -> Text:
    """Title (never the raw id), then a dim line with the date and the number of questions."""
    questions = s.turns // 2
    label = Text(clip(s.title or "untitled chat"))
    label.append(f"\n{when(s.updated_at)} · {questions} question{'s' if questions != 1 else ''}", style="dim")
    return label


class SessionItem(ListItem):
    def __init__(self, session_id: str | None, title: str, label: Text | None = None) -> None:
        super().__init__(Label(label if label is not None else title, markup=False))
        self.session_id = session_id
        self.title = title


class SessionList(ListView):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rename", "Rename"),
        Binding("delete,d", "delete", "Delete"),
        Binding("slash", "search", "Search", show=False),
    ]

    def _current(self) -> SessionItem | None:
        item = self.highlighted_child
        return item if isinstance(item, SessionItem) and item.session_id else None

    def action_rename(self) -> None:
        panel = self.parent
        if isinstance(panel, SessionPanel) and (item := self._current()) is not None:
            panel.rename(item.session_id or "", item.title)

    def action_delete(self) -> None:
        panel = self.parent
        if isinstance(panel, SessionPanel) and (item := self._current()) is not None:
            panel.delete(item.session_id or "", item.title)

    def action_search(self) -> None:
        self.screen.query_one("#session-search", Input).focus()


class SessionPanel(Vertical):
    """Lists sessions (filtered by the search box) and posts `Opened` when one is chosen."""

    DEFAULT_CSS = """
    SessionPanel { width: 28; border-right: solid $panel; }
    SessionPanel #session-search { margin: 0; border: none; height: 1; padding: 0 1; }
    SessionPanel ListView { height: 1fr; }
    """

    @dataclass
    class Opened(Message):
        session_id: str | None

    @dataclass
    class Changed(Message):
        """A session was renamed or deleted."""

        session_id: str
        deleted: bool

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search chats (ctrl+f)", id="session-search")
        yield SessionList(id="session-list")

    @property
    def rt(self) -> Any:
        return self.app.runtime  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self.refresh_list()

    def refresh_list(self, select: str | None = None) -> None:
        search = self.query_one("#session-search", Input).value.strip() or None
        lv = self.query_one(SessionList)
        lv.clear()
        lv.append(SessionItem(None, "+ new chat"))
        try:
            # chats only; a search also finds the one-off CLI asks (they would flood the list otherwise)
            kinds = KINDS if search else ("chat",)
            sessions = self.rt.sessions.list(limit=LIST_LIMIT, search=search, kinds=kinds)
        except Exception as e:  # a locked or damaged database: say so, keep the app
            report_error(self.app, "Could not list chats", e)
            return
        for i, s in enumerate(sessions, 1):
            lv.append(SessionItem(s.id, s.title or "untitled chat", session_label(s)))
            if s.id == select:
                lv.index = i

    @on(Input.Changed, "#session-search")
    def searched(self) -> None:
        self.refresh_list()

    @on(Input.Submitted, "#session-search")
    def search_done(self) -> None:
        lv = self.query_one(SessionList)
        lv.index = 1 if len(lv) > 1 else 0  # the first match, not "+ new chat"
        lv.focus()

    @on(ListView.Selected, "#session-list")
    def chosen(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, SessionItem):
            self.post_message(self.Opened(event.item.session_id))

    def rename(self, session_id: str, title: str) -> None:
        def done(new: str | None) -> None:
            if not new:
                return
            try:
                self.rt.sessions.rename(session_id, new)
            except Exception as e:
                report_error(self.app, "Could not rename", e)
                return
            self.refresh_list(select=session_id)
            self.post_message(self.Changed(session_id, deleted=False))

        self.app.push_screen(AskScreen("Rename chat", title, "a title"), done)

    def delete(self, session_id: str, title: str) -> None:
        def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                self.rt.sessions.delete(session_id)
            except Exception as e:
                report_error(self.app, "Could not delete", e)
                return
            self.refresh_list()
            self.post_message(self.Changed(session_id, deleted=True))
            self.app.notify(f"Deleted “{title}”", markup=False)

        self.app.push_screen(
            ConfirmScreen(
                f"Delete the chat “{title}”?",
                "Its messages are removed for good; traces and feedback stay for the observatory.",
                yes="Delete",
            ),
            done,
        )
