"""The prompts screen: the registry's prompts, a prompt's versions and labels, a version's text, the diff
with the version before, its tests (run in a worker), promotion and rollback, each confirmed first."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from edgeprompt.tui.widgets import AskScreen, ConfirmScreen, EdgeScreen, diff_text, error_text


def suite_text(s: Any) -> Text:
    out = Text(
        f"{s.name}@{s.seq} on {s.model}: {len(s.cases) - s.failed}/{len(s.cases)} passed\n",
        style="bold green" if s.passed else "bold red",
    )
    if not s.cases:
        out.append("no tests: a version without tests cannot be promoted without forcing\n")
    for c in s.cases:
        out.append("  ok   " if c.passed else "  FAIL ", style="green" if c.passed else "red")
        out.append(f"{c.index} {c.name}\n")
        for f in c.failures:
            out.append(f"         {f}\n", style="red")
    return out


class PromptsScreen(EdgeScreen):
    DEFAULT_CSS = """
    PromptsScreen #prompt-list { height: 7; }
    PromptsScreen #versions { height: 7; border-top: solid $panel; }
    PromptsScreen #prompt-detail { height: 1fr; border-top: solid $panel; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "diff", "Diff"),
        Binding("t", "test", "Run tests"),
        Binding("p", "promote", "Promote"),
        Binding("b", "rollback", "Roll back"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.prompt: str | None = None
        self.versions: list[Any] = []

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield DataTable(id="prompt-list", cursor_type="row")
        yield DataTable(id="versions", cursor_type="row")
        with VerticalScroll(id="prompt-detail"):
            yield Static("", id="detail-text")
        yield from self.footer()

    @property
    def registry(self) -> Any:
        return self.rt.registry()

    def on_mount(self) -> None:
        self.query_one("#prompt-list", DataTable).add_columns("prompt", "versions", "labels", "description")
        self.query_one("#versions", DataTable).add_columns("ver", "id", "author", "labels", "message")
        self.action_reload()
        self.query_one("#prompt-list", DataTable).focus()

    def action_reload(self) -> None:
        def read() -> list[dict[str, Any]]:
            self.registry.ensure_default()  # the shipped assistant prompt is there from the first run
            return list(self.registry.summary())

        self.background(read, self.show_prompts, title="Could not read the registry", group="read")

    def show_prompts(self, rows: list[dict[str, Any]]) -> None:
        table = self.query_one("#prompt-list", DataTable)
        table.clear()
        for r in rows:
            labels = " ".join(f"{k}=@{v}{'🔒' if k in r['protected'] else ''}" for k, v in r["labels"].items())
            table.add_row(r["name"], str(r["versions"]), labels, r["description"] or "", key=r["name"])
        names = [r["name"] for r in rows]
        if self.prompt in names:
            table.move_cursor(row=names.index(self.prompt))
        elif names:
            self.open_prompt(names[0])

    @on(DataTable.RowHighlighted, "#prompt-list")
    def prompt_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value and event.row_key.value != self.prompt:
            self.open_prompt(event.row_key.value)

    def open_prompt(self, name: str) -> None:
        self.prompt = name

        def read() -> tuple[list[Any], dict[str, str]]:
            return self.registry.history(name), self.registry.labels.of(name)

        self.background(
            read,
            lambda r: self.show_versions(name, *r),
            title="Could not read the prompt",
            group="versions",
            exclusive=True,
        )

    def show_versions(self, name: str, versions: list[Any], labels: dict[str, str]) -> None:
        if name != self.prompt:
            return
        self.versions = versions
        table = self.query_one("#versions", DataTable)
        table.clear()
        for v in reversed(versions):
            on_it = ",".join(k for k, vid in labels.items() if vid == v.id)
            table.add_row(f"@{v.seq}", v.id[:10], v.author, on_it, v.message, key=str(v.seq))
        if versions:
            self.show_version(versions[-1])

    @on(DataTable.RowHighlighted, "#versions")
    def version_highlighted(self, event: DataTable.RowHighlighted) -> None:
        v = self.version_by_key(event.row_key.value)
        if v is not None:
            self.show_version(v)

    def version_by_key(self, key: str | None) -> Any:
        return next((v for v in self.versions if str(v.seq) == key), None)

    def selected_version(self) -> Any:
        table = self.query_one("#versions", DataTable)
        if not table.row_count:
            self.notify("Pick a prompt first", severity="warning")
            return None
        return self.version_by_key(table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value)

    def show_detail(self, body: Text | str) -> None:
        self.query_one("#detail-text", Static).update(body if isinstance(body, Text) else Text(body))

    def show_version(self, v: Any) -> None:
        from edgeprompt.prompts.files import dump

        head = Text(
            f"{v.name}@{v.seq}  {v.id}  by {v.author}" + (f" — {v.message}" if v.message else "") + "\n", style="bold"
        )
        self.show_detail(head + Text(dump(v.spec)))

    # -- actions ------------------------------------------------------------------------------------
    def action_diff(self) -> None:
        from edgeprompt.prompts.diff import diff_versions

        v = self.selected_version()
        if v is None:
            return
        if v.seq == 1:
            self.notify("@1 is the first version: nothing to compare with", severity="warning")
            return
        name = v.name
        self.background(
            lambda: diff_versions(self.registry, name, str(v.seq - 1), str(v.seq)),
            lambda d: self.show_detail(
                Text(f"changed: {', '.join(d['changed']) or 'nothing'}\n", style="bold")
                + diff_text(d["diff"] or "identical")
            ),
            title="Could not diff",
        )

    def action_test(self) -> None:
        from edgeprompt.prompts.suite import run_suite

        v = self.selected_version()
        if v is None:
            return
        model = getattr(self.app, "model", None)
        self.show_detail(Text(f"running the tests of {v.name}@{v.seq}…", style="italic"))
        self.background(
            lambda: run_suite(self.rt.suite_parts(), self.registry, v, model),
            lambda s: self.show_detail(suite_text(s)),
            title="Could not run the tests",
            group="tests",
            exclusive=True,
        )

    def action_promote(self) -> None:
        v = self.selected_version()
        if v is None:
            return

        def to_label(label: str | None) -> None:
            def confirmed(yes: bool | None) -> None:
                if yes and label:
                    self._promote(v, label, False)

            if label:
                self.app.push_screen(
                    ConfirmScreen(
                        f"Promote {v.name}@{v.seq} to '{label}'?",
                        "Its tests run first on the current model unless they already passed there; a failing "
                        "suite refuses the promotion.",
                        yes="Promote",
                    ),
                    confirmed,
                )

        self.app.push_screen(AskScreen(f"Promote {v.name}@{v.seq} to which label?", "production"), to_label)

    def _promote(self, v: Any, label: str, force: bool) -> None:
        from edgeprompt.errors import PromotionRefusedError
        from edgeprompt.prompts.suite import promote

        model = getattr(self.app, "model", None)
        app = self.app

        def job() -> Any:
            try:
                return promote(
                    self.rt.suite_parts(), self.registry, v.name, str(v.seq), label, model, force, confirmed=True
                )
            except PromotionRefusedError as e:
                app.call_from_thread(self._offer_force, v, label, error_text(e))
                return None

        self.background(job, self._promoted, title="Could not promote", group="tests")

    def _offer_force(self, v: Any, label: str, why: str) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                self._promote(v, label, True)

        self.show_detail(Text(why, style="red"))
        self.app.push_screen(
            ConfirmScreen(
                "Tests did not pass — promote anyway?", f"{why}\n\nForcing it is written to the audit log.", yes="Force"
            ),
            confirmed,
        )

    def _promoted(self, done: Any) -> None:
        if done is None:
            return
        if done.suite is not None:
            self.show_detail(suite_text(done.suite))
        m = done.move
        self.notify(
            f"{m.name}:{m.label} → @{done.seq}" + (" (forced)" if m.forced else "")
            if m.changed
            else f"{m.name}:{m.label} already at @{done.seq}",
            title="Promoted",
            markup=False,
        )
        self.action_reload()
        self.open_prompt(m.name)

    def action_rollback(self) -> None:
        name = self.prompt
        if name is None:
            return

        def to_label(label: str | None) -> None:
            def confirmed(yes: bool | None) -> None:
                if yes and label:
                    self._rollback(name, label)

            if label:
                self.app.push_screen(
                    ConfirmScreen(f"Roll '{label}' of {name} back to where it pointed before?", yes="Roll back"),
                    confirmed,
                )

        self.app.push_screen(AskScreen(f"Roll back which label of {name}?", "production"), to_label)

    def _rollback(self, name: str, label: str) -> None:
        def done(move: Any) -> None:
            seq = next((v.seq for v in self.versions if v.id == move.to_version), "?")
            self.notify(f"{name}:{label} → @{seq}", title="Rolled back", markup=False)
            self.action_reload()
            self.open_prompt(name)

        self.background(
            lambda: self.registry.labels.rollback(name, label, confirmed=True), done, title="Could not roll back"
        )
