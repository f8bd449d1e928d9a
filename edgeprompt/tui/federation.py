"""The federation screen: ε spent against the budget per model, whether this laptop's SuperNode runs,
the labelled examples it would train on, the last rounds, and join (after consent) / leave."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, ProgressBar, Static

from edgeprompt.tui.widgets import AskScreen, ConfirmScreen, EdgeScreen


def node_text(obj: dict[str, Any]) -> str:
    n = obj["node"]
    examples = ", ".join(f"{k} {v}" for k, v in obj["examples"].items()) or "none yet"
    node = (
        f"node: running (pid {n['pid']}) · superlink {n['superlink']}"
        if n
        else "node: not running · j joins a coordinator"
    )
    return f"{node}\nlabelled examples on this laptop: {examples}"


def metrics_text(m: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" for k, v in m.items() if isinstance(v, int | float) and not isinstance(v, bool))


class FederationScreen(EdgeScreen):
    DEFAULT_CSS = """
    FederationScreen #budgets { height: auto; padding: 0 1; }
    FederationScreen .budget { height: 1; }
    FederationScreen .budget Label { width: 52; }
    FederationScreen #node { height: auto; padding: 0 1; background: $panel; }
    FederationScreen #rounds { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "join", "Join"),
        Binding("l", "leave", "Leave"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield Static("privacy budget (ε spent of the budget, per model)", classes="title")
        yield Vertical(id="budgets")
        yield Static("", id="node", markup=False)
        yield DataTable(id="rounds", cursor_type="row", zebra_stripes=True)
        yield from self.footer()

    def on_mount(self) -> None:
        self.query_one("#rounds", DataTable).add_columns("event", "model", "run", "round", "metrics")
        self.action_reload()

    def action_reload(self) -> None:
        from edgeprompt.federation.status import status

        self.background(
            lambda: status(self.rt.db, self.rt.paths, self.rt.settings.section("federation"), events=50),
            self.show,
            title="Could not read the federation status",
            group="status",
            exclusive=True,
        )

    async def show(self, obj: dict[str, Any]) -> None:
        self.status = obj
        box = self.query_one("#budgets", Vertical)
        await box.remove_children()
        for b in obj["budgets"]:
            bar = ProgressBar(total=max(b["budget"], 1e-9), show_eta=False, show_percentage=True)
            bar.progress = min(b["epsilon"], b["budget"])
            text = f"{b['task']:<9} ε {b['epsilon']:.3f} / {b['budget']:g}  ({b['releases']} rounds, δ={b['delta']:g})"
            await box.mount(Horizontal(Label(text, markup=False), bar, classes="budget"))
        self.query_one("#node", Static).update(node_text(obj))
        table = self.query_one("#rounds", DataTable)
        table.clear()
        for e in obj["events"]:
            table.add_row(e["kind"], e["task"], e["run_id"] or "-", str(e["round"] or "-"), metrics_text(e["metrics"]))
        if not obj["events"]:
            table.add_row("", "", "no rounds yet", "", "")

    def action_join(self) -> None:
        from edgeprompt.federation import node
        from edgeprompt.federation.status import consent_text

        def address(superlink: str | None) -> None:
            if not superlink:
                return
            try:
                node.check_address(superlink)
            except Exception as e:
                self.notify(str(e), title="Cannot join", severity="error", markup=False)
                return
            local = superlink.split(":")[0] in ("127.0.0.1", "localhost", "::1")

            def confirmed(yes: bool | None) -> None:
                if yes and superlink:
                    self._join(superlink, local)

            self.app.push_screen(
                ConfirmScreen(
                    "Join and train on this laptop's examples?",
                    consent_text(
                        self.rt.db, self.rt.home, self.rt.settings.section("federation"), superlink, insecure=local
                    ),
                    yes="I agree, join",
                ),
                confirmed,
            )

        self.app.push_screen(
            AskScreen(
                "Coordinator address (its Fleet API)",
                placeholder="HOST:PORT",
                body="A coordinator on this machine (127.0.0.1) is reached without TLS; "
                "any other needs TLS (use the CLI for certificates and keys).",
            ),
            address,
        )

    def _join(self, superlink: str, insecure: bool) -> None:
        from edgeprompt.federation import node

        port = int(self.rt.settings.section("federation")["supernode_port"])
        opts = node.NodeOptions(superlink, port, insecure, None, None)

        def joined(state: Any) -> None:
            self.notify(
                f"SuperNode started (pid {state.pid}), connected to {state.superlink}", title="Joined", markup=False
            )
            self.action_reload()

        self.background(lambda: node.start(self.rt.paths, opts), joined, title="Could not join", group="node")

    def action_leave(self) -> None:
        from edgeprompt.federation import node

        def left(state: Any) -> None:
            self.notify(f"SuperNode stopped (pid {state.pid})" if state else "No SuperNode was running")
            self.action_reload()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.background(lambda: node.stop(self.rt.paths), left, title="Could not leave", group="node")

        self.app.push_screen(
            ConfirmScreen(
                "Leave the federation?",
                "This laptop's SuperNode stops; what it already sent stays counted in the privacy ledger.",
                yes="Leave",
            ),
            confirmed,
        )
