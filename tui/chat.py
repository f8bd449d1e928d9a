"""The chat screen: sessions on the left, the conversation in the middle, the question box at the bottom.

Answers stream from a worker thread into a Markdown widget; Esc cancels; the status line shows the
model, tokens/s, the context budget, the cache and firewall markers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, ListItem, ListView, Markdown, Static

from edgeprompt.errors import EdgepromptError


class Bubble(Vertical):
    """One message: who said it, then the text (Markdown for answers)."""

    DEFAULT_CSS = """
    Bubble { height: auto; margin: 0 1 1 1; padding: 0 1; }
    Bubble.user { border-left: thick $primary; background: $boost; }
    Bubble.assistant { border-left: thick $success; }
    Bubble .who { color: $text-muted; text-style: bold; }
    Bubble Markdown { margin: 0; padding: 0; }
    Bubble .meta { color: $text-muted; }
    """

    def __init__(self, role: str, text: str = "", meta: str = "") -> None:
        super().__init__(classes=role)
        self.role = role
        self.text = text
        self.meta = meta
        self.trace_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Label("You" if self.role == "user" else "Assistant", classes="who")
        yield Markdown(self.text)
        yield Static(self.meta, classes="meta")

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    def set_meta(self, meta: str) -> None:
        self.meta = meta
        self.query_one(".meta", Static).update(meta)


class SessionItem(ListItem):
    def __init__(self, session_id: str | None, title: str) -> None:
        super().__init__(Label(title))
        self.session_id = session_id


@dataclass
class Streamed(Message):
    """A piece of the answer, posted from the worker thread."""

    text: str


@dataclass
class Finished(Message):
    result: Any | None
    error: str | None = None
    notices: tuple[str, ...] = ()


class ChatScreen(Screen[None]):
    DEFAULT_CSS = """
    ChatScreen #sessions { width: 28; border-right: solid $panel; }
    ChatScreen #sessions ListView { height: 1fr; }
    ChatScreen #conversation { height: 1fr; }
    ChatScreen #status { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    ChatScreen #question { margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Stop answer"),
        Binding("ctrl+n", "new_session", "New chat"),
        Binding("ctrl+s", "toggle_sessions", "Sessions"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.cancel_event: threading.Event | None = None
        self.current: Bubble | None = None
        self._stream: Any = None

    @property
    def rt(self) -> Any:
        return self.app.runtime  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="sessions"):
                yield Label(" Sessions  (ctrl+n new)")
                yield ListView(id="session-list")
            with Vertical():
                yield VerticalScroll(id="conversation")
                yield Static("", id="status")
                yield Input(placeholder="Ask anything — Enter to send, Esc to stop", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_sessions()
        self.update_status()
        self.query_one("#question", Input).focus()

    # -- sessions -----------------------------------------------------------------------------------
    def refresh_sessions(self) -> None:
        lv = self.query_one("#session-list", ListView)
        lv.clear()
        lv.append(SessionItem(None, "+ new chat"))
        for s in self.rt.sessions.list(limit=200):
            lv.append(SessionItem(s.id, s.title or s.id))

    @on(ListView.Selected, "#session-list")
    def open_session(self, event: ListView.Selected) -> None:
        item = event.item
        if isinstance(item, SessionItem):
            self.load_session(item.session_id)
            self.query_one("#question", Input).focus()

    def load_session(self, session_id: str | None) -> None:
        conv = self.query_one("#conversation", VerticalScroll)
        conv.remove_children()
        self.session_id = session_id
        if session_id is None:
            return
        for t in self.rt.sessions.turns(session_id):
            bubble = Bubble(t.role, t.content)
            bubble.trace_id = t.trace_id
            conv.mount(bubble)
        conv.scroll_end(animate=False)

    def action_new_session(self) -> None:
        self.load_session(None)
        self.query_one("#question", Input).focus()

    def action_toggle_sessions(self) -> None:
        panel = self.query_one("#sessions")
        panel.display = not panel.display

    # -- asking -------------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    async def ask(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or self.cancel_event is not None:
            return
        event.input.value = ""
        conv = self.query_one("#conversation", VerticalScroll)
        await conv.mount(Bubble("user", text))
        self.current = Bubble("assistant", "")
        await conv.mount(self.current)
        conv.scroll_end(animate=False)
        self._stream = Markdown.get_stream(self.current.markdown)
        self.cancel_event = threading.Event()
        self.update_status("thinking…")
        self.generate(text, self.cancel_event)

    @work(thread=True, exclusive=True, group="generate")
    def generate(self, question: str, cancel: threading.Event) -> None:
        from edgeprompt.pipeline import AskRequest, Done, Notice, Token, run

        notices: list[str] = []
        try:
            req = AskRequest(question, model=getattr(self.app, "model", None), session_id=self.session_id,
                             cancel=cancel)
            for ev in run(req, self.rt):
                if isinstance(ev, Token):
                    self.post_message(Streamed(ev.text))
                elif isinstance(ev, Notice):
                    notices.append(ev.text)
                elif isinstance(ev, Done):
                    self.post_message(Finished(ev.result, notices=tuple(notices)))
        except EdgepromptError as e:
            self.post_message(Finished(None, str(e)))
        except Exception as e:  # the app must never show a traceback; the error becomes a notification
            self.post_message(Finished(None, f"{type(e).__name__}: {e}"))

    async def on_streamed(self, message: Streamed) -> None:
        if self._stream is not None:
            await self._stream.write(message.text)
            self.query_one("#conversation", VerticalScroll).scroll_end(animate=False)

    async def on_finished(self, message: Finished) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.cancel_event = None
        bubble = self.current
        self.current = None
        if message.error is not None:
            if bubble is not None:
                await bubble.remove()
            self.notify(message.error, title="Could not answer", severity="error", timeout=8)
            self.update_status()
            return
        result = message.result
        new_session = self.session_id is None
        self.session_id = result.session_id
        if bubble is not None:
            bubble.trace_id = result.trace_id
            if bubble.markdown.source != result.answer:
                await bubble.markdown.update(result.answer)
            bubble.set_meta(self.meta_line(result))
        for note in message.notices:
            self.notify(note, timeout=6)
        if new_session:
            self.refresh_sessions()
        self.update_status(self.status_line(result))

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.update_status("stopping…")

    # -- status -------------------------------------------------------------------------------------
    @staticmethod
    def meta_line(result: Any) -> str:
        parts = [result.model, f"{result.usage['completion_tokens']} tokens",
                 f"{result.timings['tokens_per_s']:.1f} tok/s"]
        if result.cached:
            parts.append("cached")
        if result.finish_reason == "cancelled":
            parts.append("stopped")
        return " · ".join(parts)

    @staticmethod
    def status_line(result: Any) -> str:
        ctx = result.context or {}
        budget = ctx.get("budget", 0)
        used = ctx.get("prompt_tokens", 0)
        sys_t, hist = ctx.get("system_tokens", 0), ctx.get("history_tokens", 0)
        free = max(0, budget - used)
        verdicts = result.verdicts or []
        fw = "firewall " + (max((v.get("decision", "allow") for v in verdicts),
                                key=["allow", "flag", "block"].index) if verdicts else "allow")
        return (f"{result.model} · {result.timings['tokens_per_s']:.1f} tok/s · context sys {sys_t} / "
                f"hist {hist} / free {free} · {'cache hit' if result.cached else 'no cache'} · {fw} · "
                f"{time.strftime('%H:%M')}")

    def update_status(self, text: str | None = None) -> None:
        if text is None:
            try:
                card = self.rt.card(getattr(self.app, "model", None))
                text = f"{card.id} · ready"
            except EdgepromptError as e:
                text = str(e)
        self.query_one("#status", Static).update(text)
