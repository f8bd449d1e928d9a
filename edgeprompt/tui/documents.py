"""The documents screen: what is indexed (added folders and files, then every document), indexing progress,
add / remove / reindex / watch, and search with results that open at the matching place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from edgeprompt.tui.widgets import ConfirmScreen, EdgeScreen, PathScreen, TextScreen, error_text, short_path


@dataclass
class IndexProgress(Message):
    done: int
    total: int
    path: str
    bytes_done: int = 0
    bytes_total: int = 0


@dataclass
class Indexed(Message):
    """An indexing run (add, reindex, or a watched change) finished."""

    summary: Any
    what: str


def summary_line(d: dict[str, Any]) -> str:
    text = (
        f"indexed {d['indexed']}, unchanged {d['unchanged']}, removed {d['removed']}, skipped {d['skipped']}"
        f" · {d['chunks']} chunks in {d['seconds']:.1f} s"
    )
    if d["flagged"]:
        text += f" · {d['flagged']} flagged by the firewall"
    return text


class DocumentsScreen(EdgeScreen):
    DEFAULT_CSS = """
    DocumentsScreen #doc-summary { height: 1; padding: 0 1; background: $panel; }
    DocumentsScreen #progress-row { height: 1; padding: 0 1; display: none; }
    DocumentsScreen #progress-row.busy { display: block; }
    DocumentsScreen #progress-label { width: 1fr; color: $text-muted; }
    DocumentsScreen #docs { height: 1fr; }
    DocumentsScreen #doc-search { margin: 0 1; }
    DocumentsScreen #hits { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add"),
        Binding("delete,x", "remove", "Remove"),
        Binding("w", "watch", "Watch on/off"),
        Binding("r", "reindex", "Reindex"),
        Binding("slash", "search", "Search"),
        Binding("escape", "leave_search", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.watcher: Any = None
        self.busy = False
        self.hits: list[Any] = []

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield Static("", id="doc-summary", markup=False)
        with Horizontal(id="progress-row"):
            yield Label("indexing…", id="progress-label", markup=False)
            yield ProgressBar(id="progress", show_eta=True)
        with Vertical():
            yield DataTable(id="docs", cursor_type="row", zebra_stripes=True)
            yield Input(placeholder="search your documents (/) — Enter to search", id="doc-search")
            yield DataTable(id="hits", cursor_type="row")
        yield from self.footer()

    def on_mount(self) -> None:
        docs = self.query_one("#docs", DataTable)
        docs.add_columns(" ", "type", "chunks", "path")
        hits = self.query_one("#hits", DataTable)
        hits.add_columns("#", "relevance", "where", "text")
        self.reload()

    @property
    def library(self) -> Any:
        return self.rt.documents()

    # -- listing ------------------------------------------------------------------------------------
    def reload(self) -> None:
        def read() -> tuple[list[str], list[Any]]:
            store = self.library.store
            return store.sources(), store.documents()

        self.background(read, lambda r: self.show(*r), title="Could not list documents", group="list", exclusive=True)

    def show(self, sources: list[str], docs: list[Any]) -> None:
        table = self.query_one("#docs", DataTable)
        cursor = table.cursor_row
        table.clear()
        for s in sources:
            n = sum(1 for d in docs if d.path == s or d.path.startswith(s.rstrip("/") + "/"))
            table.add_row("📁" if Path(s).is_dir() else "+", "source", str(n), short_path(s), key=f"src:{s}")
        for d in docs:
            table.add_row("⚠" if d.flagged else "", d.kind, str(d.chunks), short_path(d.path), key=f"doc:{d.path}")
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        chunks = sum(d.chunks for d in docs)
        watching = "watching for changes" if self.watcher is not None else "not watching (w)"
        empty = "  ·  press a to add a folder or file" if not sources else ""
        self.query_one("#doc-summary", Static).update(
            f"{len(docs)} documents · {chunks} chunks · {len(sources)} sources · {watching}{empty}"
        )

    def selected_path(self) -> str | None:
        table = self.query_one("#docs", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value or ""
        return key.split(":", 1)[1] if ":" in key else None

    # -- indexing -----------------------------------------------------------------------------------
    def _index(self, what: str, job: Any) -> None:
        if self.busy:
            self.notify("Indexing is already running", severity="warning")
            return
        self.busy = True
        self.query_one("#progress-row").add_class("busy")
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)

        def progress(p: Any) -> None:
            self.post_message(IndexProgress(p.done, p.total, p.path, p.bytes_done, p.bytes_total))

        def run() -> Any:
            try:
                return job(progress)
            finally:
                self.post_message(Indexed(None, ""))  # clears the busy state even when the job failed

        self.background(run, lambda s: self.post_message(Indexed(s, what)), title=f"Could not {what}", group="index")

    def on_index_progress(self, m: IndexProgress) -> None:
        # bytes, not files: a large file among small ones is most of the work
        self.query_one("#progress", ProgressBar).update(total=m.bytes_total or None, progress=m.bytes_done)
        self.query_one("#progress-label", Label).update(
            f"indexing {m.bytes_done / 1e6:.1f}/{m.bytes_total / 1e6:.1f} MB · file {min(m.done + 1, m.total)}/"
            f"{m.total} · {Path(m.path).name}"
        )

    def on_indexed(self, m: Indexed) -> None:
        if m.summary is None:
            self.busy = False
            self.query_one("#progress-row").remove_class("busy")
            return
        d = m.summary.as_dict()
        self.notify(
            summary_line(d),
            title=m.what.capitalize(),
            markup=False,
            severity="warning" if d["flagged"] or d["skipped"] else "information",
        )
        self.reload()

    def action_add(self) -> None:
        def done(path: str | None) -> None:
            if path:
                self._index("add documents", lambda cb: self.library.indexer.add([path], progress=cb))

        self.app.push_screen(PathScreen("Add a folder or file to your documents"), done)

    def action_reindex(self) -> None:
        self._index("reindex", lambda cb: self.library.indexer.reindex(progress=cb))

    def action_remove(self) -> None:
        path = self.selected_path()
        if path is None:
            return

        def removed(n: int) -> None:
            self.notify(f"Removed {n} document(s)")
            self.reload()

        def done(yes: bool | None) -> None:
            if yes:
                self.background(
                    lambda: self.library.indexer.remove(path), removed, title="Could not remove", group="index"
                )

        why = "It leaves the index (and answers); the files themselves are left alone."
        self.app.push_screen(ConfirmScreen(f"Forget {short_path(path)}?", why, yes="Remove"), done)

    def action_watch(self) -> None:
        from edgeprompt.rag.watch import DocumentWatcher

        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
            self.notify("Stopped watching")
            self.reload()
            return
        sources = [Path(s) for s in self.library.store.sources()]
        if not sources:
            self.notify("Add a folder first (a)", severity="warning")
            return
        self.watcher = DocumentWatcher(
            self.library.indexer,
            sources,
            on_update=lambda s: self.post_message(Indexed(s, "re-index changes")),
            on_error=lambda e: self.app.call_from_thread(
                self.notify, error_text(e), title="Watching", severity="error", markup=False
            ),
        ).start()
        self.app.on_close(self.stop_watching)  # type: ignore[attr-defined]
        self.notify(f"Watching {len(sources)} source(s) for changes")
        self.reload()

    def stop_watching(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    # -- search -------------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one("#doc-search", Input).focus()

    def action_leave_search(self) -> None:
        self.query_one("#docs", DataTable).focus()

    @on(Input.Submitted, "#doc-search")
    def search(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if query:
            self.background(
                lambda: self.library.retriever.search(query, 10),
                self.show_hits,
                title="Could not search",
                group="search",
                exclusive=True,
            )

    def show_hits(self, hits: list[Any]) -> None:
        self.hits = hits
        table = self.query_one("#hits", DataTable)
        table.clear()
        for i, h in enumerate(hits, 1):
            where = f"{Path(h.path).name} {h.location}".strip()
            table.add_row(str(i), f"{h.relevance:.2f}", where, " ".join(h.text.split())[:200], key=str(i))
        if not hits:
            self.notify("No matches", severity="warning")
        else:
            table.focus()

    @on(DataTable.RowSelected, "#hits")
    def open_hit(self, event: DataTable.RowSelected) -> None:
        h = self.hits[int(event.row_key.value or 1) - 1]
        self._preview(h.path, h.location, h.text)

    @on(DataTable.RowSelected, "#docs")
    def open_doc(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        if key.startswith("doc:"):
            self._preview(key[4:], "", "")

    def _preview(self, path: str, location: str, text: str) -> None:
        from edgeprompt.tui.preview import preview

        self.background(
            lambda: preview(path, location, text),
            lambda p: self.app.push_screen(TextScreen(p.title, p.body, p.line)),
            title="Could not open the document",
        )
