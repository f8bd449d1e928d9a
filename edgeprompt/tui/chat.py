"""The chat screen: sessions on the left, the conversation in the middle, the question box at the bottom.

Answers stream from a worker thread into a Markdown widget; Esc stops one. ↑ selects an answer to rate
(+/-), copy (c), edit (e) or open its sources (1-9). The status line shows the model, tokens/s, the
context budget (system / documents / history / free), the cache marker and the firewall verdict.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Markdown, Static

from edgeprompt.tui.answers import AnswerActions
from edgeprompt.tui.bubbles import Bubble
from edgeprompt.tui.modelpick import AUTO, GET_A_MODEL, is_generative, model_choices, picker_title
from edgeprompt.tui.offer import ModelOffer
from edgeprompt.tui.sessions import SessionList, SessionPanel
from edgeprompt.tui.widgets import (
    EdgeScreen,
    PathScreen,
    PickScreen,
    error_text,
    short_path,
)

if TYPE_CHECKING:
    from edgeprompt.firewall.verdicts import StageVerdict

NARROW = 90  # columns below which the session list starts hidden


@dataclass
class Streamed(Message):
    """A piece of the answer, posted from the worker thread."""

    text: str


@dataclass
class Finished(Message):
    result: Any | None
    error: str | None = None
    notices: tuple[str, ...] = ()


def firewall_word(verdicts: Sequence[StageVerdict]) -> str:
    order = ["allow", "redact", "flag", "block"]
    worst = max(
        (v.decision for v in verdicts),
        key=lambda d: order.index(d) if d in order else 0,
        default="allow",
    )
    return f"firewall {worst}"


def status_line(result: Any) -> str:
    """model · tok/s or cached · context sys / docs / hist / free · firewall (from an `AskResult`). Parts that
    are zero or absent are left out, so that the line fits one row of an 80-column screen more often."""
    ctx = result.context or {}
    docs = int(ctx.get("documents_tokens", 0))
    used = {"sys": max(0, int(ctx.get("system_tokens", 0)) - docs), "docs": docs, "hist": ctx.get("history_tokens", 0)}
    free = max(0, int(ctx.get("budget", 0)) - int(ctx.get("prompt_tokens", 0)))
    ctx_part = "ctx " + " · ".join([f"{k} {v}" for k, v in used.items() if v] + [f"free {free}"])
    return " · ".join([result.model, result.speed(0), ctx_part, firewall_word(result.verdicts or [])])


def meta_line(result: Any) -> str:
    parts = [result.model, f"{result.usage['completion_tokens']} tokens", result.speed(1)]
    if result.finish_reason == "cancelled":
        parts.append("stopped")
    elif result.finish_reason == "length":
        parts.append("cut at the token limit")
    return " · ".join(parts)


class Conversation(VerticalScroll):
    """The messages. From a question until an earlier answer is selected it is anchored to its end (Textual's
    anchor, kept by the compositor at every layout): an answer's sources, its meta line and a status line that
    changes height arrive after the answer's own scroll and would otherwise leave its end below the fold."""


class ChatScreen(AnswerActions, ModelOffer, EdgeScreen):
    DEFAULT_CSS = """
    ChatScreen #conversation { height: 1fr; }
    ChatScreen #status { height: auto; max-height: 2; padding: 0 1; background: $panel; color: $text-muted; }
    ChatScreen #question { margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Stop/back"),
        Binding("ctrl+n", "new_session", "New chat"),
        Binding("ctrl+l", "pick_model", "Model"),
        Binding("ctrl+o", "attach", "Attach"),
        Binding("ctrl+f", "search_sessions", "Find chat"),
        Binding("ctrl+r", "rename_session", "Rename chat", show=False),
        Binding("ctrl+g", "offer_models", "Get a language model", show=False),
        Binding("ctrl+y", "copy_answer", "Copy answer", show=False),
        Binding("ctrl+s", "toggle_sessions", "Sessions", show=False),
        Binding("up", "focus_answers", "Select answer", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.cancel_event: threading.Event | None = None
        self.current: Bubble | None = None
        self.attached: list[str] = []
        self.keep_focus = False
        self._stream: Any = None

    def compose(self) -> ComposeResult:
        yield from self.header()
        with Horizontal():
            yield SessionPanel(id="sessions")
            with Vertical():
                conv = Conversation(id="conversation")
                conv.can_focus = False
                yield conv
                yield Static("", id="status", markup=False)
                yield Input(
                    placeholder="Ask anything — Enter to send, Esc to stop, ↑ to select an answer", id="question"
                )
        yield from self.footer()

    def on_mount(self) -> None:
        self.update_status()
        if self.welcome():  # the first start without a language model offers this machine's recommended ones
            self.call_after_refresh(self.offer_models)
        self.question.focus()

    def welcome(self) -> bool:
        """A new chat where no installed model writes answers says so at once, and how to get one (True then)."""
        try:
            cards = self.rt.catalog.cards()
        except Exception:  # the status line already reports a broken catalog
            return False
        if getattr(self.app, "model", None) is None and not any(is_generative(c) for c in cards):
            self.conversation.mount(Bubble("notice", GET_A_MODEL))
            return True
        return False

    def on_screen_resume(self) -> None:
        """Back on the chat (F1, a closed dialog): type at once, not into a selected answer's single-key bindings."""
        if self.keep_focus:  # back from a source preview or an edit: the answer stays selected
            self.keep_focus = False
        else:
            self.question.focus()

    def on_resize(self, event: Any) -> None:
        """Below 90 columns the conversation gets the whole width; ctrl+s or ctrl+f brings the sessions back."""
        self.query_one(SessionPanel).display = event.size.width >= NARROW

    @property
    def question(self) -> Input:
        return self.query_one("#question", Input)

    @property
    def conversation(self) -> Conversation:
        return self.query_one("#conversation", Conversation)

    # -- sessions -----------------------------------------------------------------------------------
    @on(SessionPanel.Opened)
    def open_session(self, event: SessionPanel.Opened) -> None:
        self.load_session(event.session_id)
        self.question.focus()

    @on(SessionPanel.Changed)
    def session_changed(self, event: SessionPanel.Changed) -> None:
        if event.deleted and event.session_id == self.session_id:
            self.load_session(None)

    def load_session(self, session_id: str | None) -> None:
        if self.cancel_event is not None:
            self.notify("Stop the answer first (Esc)", severity="warning")
            return
        conv = self.conversation
        conv.remove_children()
        conv.anchor(False)
        self.session_id = session_id
        self.attached = []
        if session_id is None:
            self.update_status()
            self.welcome()
            return
        try:
            turns = self.rt.sessions.turns(session_id)
            self.attached = self.rt.sessions.attachments(session_id)
        except Exception as e:
            self.notify(error_text(e), title="Could not open the chat", severity="error", markup=False)
            return
        conv.mount_all(
            [
                Bubble(
                    t.role,
                    t.content,
                    t.meta.get("model", "") if t.role == "assistant" else "",
                    trace_id=t.trace_id,
                    turn_id=t.id,
                    citations=t.meta.get("sources"),
                )
                for t in turns
            ]
        )
        if self.attached:
            conv.mount(Bubble("attachment", "answers from " + " · ".join(short_path(p) for p in self.attached)))
        conv.scroll_end(animate=False)
        self.update_status()

    def action_new_session(self) -> None:
        self.load_session(None)
        self.query_one(SessionPanel).query_one("#session-list", SessionList).index = 0
        self.question.focus()

    def action_toggle_sessions(self) -> None:
        panel = self.query_one(SessionPanel)
        panel.display = not panel.display

    def action_search_sessions(self) -> None:
        panel = self.query_one(SessionPanel)
        panel.display = True
        panel.query_one("#session-search", Input).focus()

    def action_rename_session(self) -> None:
        if self.session_id is None:
            self.notify("Ask something first: a new chat has nothing to rename", severity="warning")
            return
        title = self.rt.sessions.get(self.session_id).title
        self.query_one(SessionPanel).rename(self.session_id, title)

    # -- asking -------------------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    async def ask(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or self.cancel_event is not None:
            return
        event.input.value = ""
        conv = self.conversation
        await conv.mount(Bubble("user", text))
        self.current = Bubble("assistant", "", "thinking…  (Esc stops)")
        await conv.mount(self.current)
        self.follow()
        self._stream = Markdown.get_stream(self.current.markdown)
        self.cancel_event = threading.Event()
        self.update_status("thinking…  (Esc stops)")
        self.generate(text, self.cancel_event)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def generate(self, question: str, cancel: threading.Event) -> None:
        from edgeprompt.pipeline import AskRequest, Done, Notice, Token, run

        notices: list[str] = []
        try:
            model = getattr(self.app, "model", None)
            # a chat with attachments answers from them only (the pipeline reads them from the session)
            req = AskRequest(question, model=model, session_id=self.session_id, cancel=cancel)
            for ev in run(req, self.rt):
                if isinstance(ev, Token):
                    self.post_message(Streamed(ev.text))
                elif isinstance(ev, Notice):
                    notices.append(ev.text)
                elif isinstance(ev, Done):
                    self.post_message(Finished(ev.result, notices=tuple(notices)))
        except Exception as e:  # the app must never show a traceback; the error becomes a notification
            self.post_message(Finished(None, error_text(e)))

    async def on_streamed(self, message: Streamed) -> None:
        if self._stream is not None:
            if self.current is not None and self.current.meta.startswith("thinking"):
                self.current.set_meta("writing…")
            await self._stream.write(message.text)
            self.follow()

    async def on_finished(self, message: Finished) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.cancel_event = None
        bubble, self.current = self.current, None
        if message.error is not None:
            if bubble is not None:
                await bubble.remove()
            self.notify(message.error, title="Could not answer", severity="error", timeout=8, markup=False)
            self.update_status()
            return
        result = message.result
        assert result is not None  # a Finished message carries a result or an error
        # the chat's first answer titles it (a new chat, or one started by attaching a file): the list shows it
        first_answer = len(self.answers()) == 1
        self.session_id = result.session_id
        if bubble is not None:
            bubble.trace_id = result.trace_id
            if bubble.markdown.source != result.answer:
                await bubble.markdown.update(result.answer)
            bubble.text = result.answer
            bubble.set_meta(meta_line(result))
            bubble.set_citations(list(result.citations or []))
        for note in message.notices:
            self.notify(note, timeout=6, markup=False)
        if first_answer:
            self.query_one(SessionPanel).refresh_list(select=self.session_id)
        self.update_status(status_line(result))
        self.follow()  # the meta line and the sources made the answer taller: keep its end in view

    def follow(self) -> None:
        """Keep the end in view from now on, through later changes of the layout (the sources, the status line),
        until the user selects an earlier answer."""
        self.conversation.anchor()

    def action_cancel(self) -> None:
        if self.cancel_event is not None:
            self.cancel_event.set()
            self.update_status("stopping…")
        elif self.focused is not self.question:
            self.question.focus()

    # -- status -------------------------------------------------------------------------------------
    def update_status(self, text: str | None = None) -> None:
        if text is None:
            model = getattr(self.app, "model", None)
            try:
                text = (
                    f"{self.rt.card(model).id} · ready"
                    if model
                    else f"auto model (default {self.rt.card().id}) · ready"
                )
            except Exception as e:
                text = error_text(e)
            if self.attached:
                text += f" · {len(self.attached)} attached"
        self.query_one("#status", Static).update(text)

    def action_pick_model(self) -> None:
        cards = self.rt.catalog.cards()
        choices = model_choices(cards)

        def done(choice: str | None) -> None:
            if choice is not None:
                self.app.model = None if choice == AUTO else choice  # type: ignore[attr-defined]
                self.notify(f"Model: {choice}", markup=False)
                self.update_status()

        current = getattr(self.app, "model", None) or AUTO
        self.app.push_screen(PickScreen(picker_title(cards), choices, current), done)

    # -- attachments --------------------------------------------------------------------------------
    def action_attach(self) -> None:
        def done(path: str | None) -> None:
            if path:
                self.background(
                    lambda: self.rt.documents().indexer.add([path]),
                    lambda s: self._attached(path, s),
                    title="Could not attach",
                    group="index",
                )

        self.app.push_screen(
            PathScreen(
                "Attach a file to this chat (indexed into your documents; this chat then answers from its attachments)"
            ),
            done,
        )

    async def _attached(self, path: str, summary: Any) -> None:
        d = summary.as_dict()
        if d["skipped"] and not d["indexed"] and not d["unchanged"]:
            why = d["skipped_files"][0]["reason"] if d["skipped_files"] else "not a supported file"
            self.notify(f"{path}: {why}", title="Not attached", severity="error", markup=False)
            return
        if self.session_id is None:  # attaching starts the chat, so the attachment has a session to belong to
            self.session_id = self.rt.sessions.create(model=getattr(self.app, "model", None)).id
            self.query_one(SessionPanel).refresh_list(select=self.session_id)
        # the index keeps resolved paths
        self.attached = self.rt.sessions.attach(self.session_id, str(Path(path).expanduser().resolve()))
        shown = short_path(path)
        note = f"{shown} · {d['chunks']} chunks indexed" if d["indexed"] else f"{shown} · already indexed"
        if d["flagged"]:
            note += " · ⚠ the firewall flagged parts of it; those parts are never used"
            self.notify("The firewall flagged parts of the attached file", severity="warning")
        await self.conversation.mount(Bubble("attachment", note))
        self.conversation.scroll_end(animate=False)
        self.update_status()
