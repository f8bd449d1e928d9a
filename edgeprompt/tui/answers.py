"""What can be done with an answer in the chat: select it (↑/↓), rate it (+/-), copy it (c), edit it (e,
kept as feedback and as the session's text), and open its sources at the cited place (1-9)."""

from __future__ import annotations

from typing import Any

from edgeprompt.commands.feedback import MAX_EDIT_CHARS  # the same limit as `edgeprompt feedback --edit`
from edgeprompt.tui.bubbles import Bubble
from edgeprompt.tui.widgets import EdgeScreen, EditScreen, TextScreen


class AnswerActions(EdgeScreen):
    """Mixed into the chat screen, which provides `question`, `current`, `session_id` and `keep_focus`."""

    question: Any
    conversation: Any
    current: Any
    session_id: str | None
    keep_focus: bool

    def answers(self) -> list[Bubble]:
        return [b for b in self.query(Bubble) if b.role == "assistant"]

    def selected(self) -> Bubble | None:
        """The answer with focus, else the newest one."""
        if isinstance(self.focused, Bubble):
            return self.focused
        answers = self.answers()
        return answers[-1] if answers else None

    # -- the selected answer ------------------------------------------------------------------------
    def action_focus_answers(self) -> None:
        answers = self.answers()
        if self.focused is self.question and answers:
            self.conversation.anchor(False)  # the user reads back: later layout changes must not scroll away
            answers[-1].focus()
            answers[-1].scroll_visible(animate=False)

    def action_move_answer(self, step: int) -> None:
        answers = self.answers()
        if not isinstance(self.focused, Bubble) or self.focused not in answers:
            return
        i = answers.index(self.focused) + step
        if i >= len(answers):
            self.question.focus()
        elif i >= 0:
            answers[i].focus()
            answers[i].scroll_visible(animate=False)

    def _answer_with_trace(self) -> Bubble | None:
        bubble = self.selected()
        if bubble is None or bubble is self.current:
            self.notify("No finished answer to use yet", severity="warning")
            return None
        if bubble.trace_id is None:
            self.notify("This answer has no trace to attach feedback to", severity="warning")
            return None
        return bubble

    def action_thumbs(self, up: bool) -> None:
        from edgeprompt.store.feedback import FeedbackStore

        if (bubble := self._answer_with_trace()) is None:
            return
        trace_id = bubble.trace_id or ""

        def done(_: Any) -> None:
            bubble.rate(1 if up else -1)
            self.notify("Thanks — rated 👍" if up else "Thanks — rated 👎")

        self.background(lambda: FeedbackStore(self.rt.db).thumbs(trace_id, up), done, title="Could not rate")

    def action_copy_answer(self) -> None:
        bubble = self.selected()
        if bubble is None or not bubble.text:
            self.notify("No answer to copy yet", severity="warning")
            return
        self.app.copy_to_clipboard(bubble.text)
        self.notify(f"Copied {len(bubble.text)} characters")

    def action_edit_answer(self) -> None:
        if (bubble := self._answer_with_trace()) is None:
            return

        def done(edited: str | None) -> None:
            if edited is None or edited == bubble.text:
                return
            if not edited.strip() or len(edited) > MAX_EDIT_CHARS:
                self.notify(f"An edit must be 1 to {MAX_EDIT_CHARS} characters", severity="error")
                return
            self.background(
                lambda: self._store_edit(bubble, edited),
                lambda _: self._show_edit(bubble, edited),
                title="Could not save the edit",
            )

        self.keep_focus = True
        self.app.push_screen(EditScreen("Edit the answer (kept as your correction)", bubble.text), done)

    def _store_edit(self, bubble: Bubble, edited: str) -> None:
        """The edit is feedback (original + correction, for preference pairs); the session keeps the correction."""
        from edgeprompt.store.feedback import FeedbackStore

        FeedbackStore(self.rt.db).edit(bubble.trace_id or "", bubble.text, edited)
        if self.session_id is None:
            return
        # a reopened answer knows its turn; one given in this run is found by its trace (one read for both)
        turns = self.rt.sessions.turns(self.session_id)
        if bubble.turn_id is not None:
            turn = next((t for t in turns if t.id == bubble.turn_id), None)
        else:
            turn = next((t for t in reversed(turns) if t.role == "assistant" and t.trace_id == bubble.trace_id), None)
        if turn is not None:
            self.rt.sessions.replace_answer(turn.id, edited, {**turn.meta, "edited": True})

    async def _show_edit(self, bubble: Bubble, edited: str) -> None:
        bubble.text = edited
        await bubble.markdown.update(edited)
        bubble.set_meta((bubble.meta + " · edited") if "edited" not in bubble.meta else bubble.meta)
        self.notify("Edit saved")

    def action_cite(self, n: int) -> None:
        bubble = self.selected()
        if bubble is not None:
            self.open_citation(bubble, n)

    def open_citation(self, bubble: Bubble, n: int) -> None:
        from edgeprompt.tui.preview import preview

        c = bubble.citation(n)
        if c is None:
            self.notify(f"This answer has no source [{n}]", severity="warning", markup=False)
            return
        self.background(
            lambda: preview(c["path"], c.get("location", ""), c.get("text", "")),
            lambda p: self._show_source(n, p),
            title="Could not open the source",
        )

    def _show_source(self, n: int, p: Any) -> None:
        self.keep_focus = True
        self.app.push_screen(TextScreen(f"[{n}] {p.title}", p.body, p.line))
