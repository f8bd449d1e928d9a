"""One message in the conversation. An answer can be selected (↑ from the question box, or Tab) and then
rated (+ / -), copied (c), edited (e) or have its sources opened (1-9, or a click on [n])."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Markdown, Static

WHO = {"user": "You", "assistant": "Assistant", "attachment": "Attached", "notice": "Getting started"}


class Sources(Static):
    """The numbered sources under an answer; each [n] is a link that opens the source at the cited place."""

    def action_cite(self, n: int) -> None:
        bubble = next((a for a in self.ancestors if isinstance(a, Bubble)), None)
        if bubble is not None:
            self.screen.open_citation(bubble, n)  # type: ignore[attr-defined]


class Bubble(Vertical):
    """One message: who said it, the text (Markdown), a meta line, and for answers the sources."""

    DEFAULT_CSS = """
    Bubble { height: auto; margin: 0 1 1 1; padding: 0 1; }
    Bubble.user { border-left: thick $primary; background: $boost; }
    Bubble.assistant { border-left: thick $success; }
    Bubble.attachment { border-left: thick $warning; color: $text-muted; }
    Bubble.notice { border-left: thick $accent; }
    Bubble:focus { background: $primary 15%; }
    Bubble .who { color: $text-muted; text-style: bold; }
    Bubble Markdown { margin: 0; padding: 0; }
    Bubble Markdown > *:last-child { margin-bottom: 0; }
    Bubble .meta { color: $text-muted; }
    Bubble Sources { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("plus,equals_sign", "screen.thumbs(True)", "👍 Good"),
        Binding("minus", "screen.thumbs(False)", "👎 Bad"),
        Binding("c", "screen.copy_answer", "Copy"),
        Binding("e", "screen.edit_answer", "Edit"),
        *[Binding(str(n), f"screen.cite({n})", f"Source {n}", show=False) for n in range(1, 10)],
        Binding("up", "screen.move_answer(-1)", "Previous", show=False),
        Binding("down", "screen.move_answer(1)", "Next", show=False),
    ]

    def __init__(
        self,
        role: str,
        text: str = "",
        meta: str = "",
        *,
        trace_id: str | None = None,
        turn_id: int | None = None,
        citations: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(classes=role)
        self.role = role
        self.text = text
        self.meta = meta
        self.trace_id = trace_id
        self.turn_id = turn_id
        self.rating: int | None = None
        self.citations: list[dict[str, Any]] = list(citations or [])  # a reopened chat's saved sources
        self.can_focus = role == "assistant"

    def compose(self) -> ComposeResult:
        yield Label(WHO.get(self.role, self.role), classes="who")
        yield Markdown(self.text)
        meta = Static(self.meta, classes="meta", markup=False)
        meta.display = bool(self.meta)  # a question or a notice has none: no empty row under it
        yield meta
        yield Sources("", classes="sources")

    def on_mount(self) -> None:
        self.set_citations(self.citations)

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    def set_meta(self, meta: str) -> None:
        self.meta = meta
        shown = meta + {1: "  · 👍", -1: "  · 👎"}.get(self.rating or 0, "")
        line = self.query_one(".meta", Static)
        line.update(shown)
        line.display = bool(shown)

    def rate(self, score: int) -> None:
        self.rating = score
        self.set_meta(self.meta)

    def set_citations(self, citations: list[dict[str, Any]]) -> None:
        """Show the sources given to the model; the ones the answer cites come first and bold."""
        self.citations = citations
        sources = self.query_one(Sources)
        if not citations:
            sources.display = False
            return
        parts = []
        for c in citations:
            name = escape(c["path"].rsplit("/", 1)[-1])
            where = escape(c.get("location") or "")
            n = int(c["n"])
            link = f"[@click=cite({n})]{escape(f'[{n}]')}[/] {name} {where}".rstrip()
            parts.append(f"[b]{link}[/b]" if c.get("cited") else link)
        sources.update("Sources: " + " · ".join(parts))
        sources.display = True

    def citation(self, n: int) -> dict[str, Any] | None:
        return next((c for c in self.citations if c["n"] == n), None)
