"""The security screen: the firewall's recent decisions with their reasons (from the hash-chained audit log),
verification of that chain, and the threat-intel packs in use (rule pack, classifier, trusted keys)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from edgeprompt.tui.widgets import EdgeScreen, PathScreen, TextScreen, error_text

EVENT_LIMIT = 300
REASON_KEYS = ("categories", "matched_rules", "reason", "findings", "why")


def decision_of(data: dict[str, Any]) -> str:
    for key in ("decision", "action", "verdict"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return "forced" if data.get("suite_passed") is False else ""


def reasons_of(data: dict[str, Any]) -> str:
    """What made the firewall decide: categories, rule ids, a reason text — whatever the entry carries."""
    parts: list[str] = []
    for key in REASON_KEYS:
        v = data.get(key)
        if isinstance(v, list):
            parts += [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in v]
        elif v:
            parts.append(str(v))
    if "score" in data:
        parts.append(f"score {float(data['score']):.2f}")
    return ", ".join(parts) or json.dumps(data, ensure_ascii=False, sort_keys=True)[:120]


def intel_summary(rt: Any) -> list[str]:
    """The packs the firewall runs with now: each line says what it is and where it came from."""
    from edgeprompt.signing import trust_store

    lines: list[str] = []
    try:
        from edgeprompt.firewall.rules import load_pack

        p = load_pack(rt.paths.models).as_dict()
        lines.append(
            f"rule pack   {p['name']} {p['version']} · {p['rules']} rules · "
            f"{', '.join(x for x in p['languages'] if x != 'any')} · {p['source'].split(':', 1)[0]}"
        )
    except Exception as e:
        lines.append(f"rule pack   unavailable: {error_text(e)}")
    try:
        from edgeprompt.firewall.classifier import Classifier

        c = Classifier.load(rt.paths.models).as_dict()
        trained = c.get("trained") or {}
        when = trained.get("date") or trained.get("at") or ""
        lines.append(f"classifier  {c['featurizer']} · dim {c['dim']} · {c['origin']}" + (f" · {when}" if when else ""))
    except Exception as e:
        lines.append(f"classifier  unavailable: {error_text(e)}")
    from edgeprompt.firewall import intel

    for pack in intel.installed(rt.db)[-4:]:
        lines.append(f"installed   {pack.kind} {pack.name} {pack.version} · signed by {pack.key_id[:12]}")
    keys = trust_store(rt.home).trusted()
    lines.append(
        f"trusted keys {len(keys)}"
        + (f" ({', '.join(k[:12] for k in keys[:3])})" if keys else " (a signed pack needs its key trusted first)")
    )
    return lines


class SecurityScreen(EdgeScreen):
    DEFAULT_CSS = """
    SecurityScreen #chain { height: auto; padding: 0 1; background: $panel; }
    SecurityScreen #events { height: 1fr; }
    SecurityScreen #intel { height: auto; padding: 0 1; border-top: solid $panel; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "verify", "Verify chain"),
        Binding("i", "import_pack", "Import intel pack"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Any] = []

    def compose(self) -> ComposeResult:
        yield from self.header()
        yield Static("audit chain: not verified yet (v)", id="chain", markup=False)
        yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
        yield Static("", id="intel", markup=False)
        yield from self.footer()

    def on_mount(self) -> None:
        self.query_one("#events", DataTable).add_columns("#", "time", "event", "decision", "reasons")
        self.action_reload()
        self.action_verify()
        self.query_one("#events", DataTable).focus()

    def action_reload(self) -> None:
        from edgeprompt.store.audit import AuditLog

        self.background(
            lambda: AuditLog(self.rt.db).entries(limit=EVENT_LIMIT),
            self.show_events,
            title="Could not read the audit log",
            group="read",
        )
        self.background(
            lambda: intel_summary(self.rt), self.show_intel, title="Could not read the intel packs", group="intel"
        )

    def show_events(self, entries: list[Any]) -> None:
        self.entries = entries
        table = self.query_one("#events", DataTable)
        table.clear()
        for e in entries:
            decision = decision_of(e.data)
            style = {"block": "bold red", "flag": "yellow", "redact": "magenta", "forced": "bold red"}.get(decision, "")
            table.add_row(
                str(e.seq),
                time.strftime("%m-%d %H:%M", time.localtime(e.created_at)),
                e.kind,
                Text(decision, style=style),
                reasons_of(e.data)[:160],
                key=str(e.seq),
            )
        if not entries:
            table.add_row("", "", "no firewall events yet", "", "")

    def show_intel(self, lines: list[str]) -> None:
        self.query_one("#intel", Static).update("\n".join(lines))

    def action_verify(self) -> None:
        from edgeprompt.store.audit import AuditLog

        self.background(
            lambda: AuditLog(self.rt.db).verify(),
            self.show_verified,
            title="Could not verify",
            group="verify",
            exclusive=True,
        )

    def show_verified(self, result: Any) -> None:
        chain = self.query_one("#chain", Static)
        if result.ok:
            chain.update(
                Text(f"audit chain: ✓ intact · {result.entries} entries verified (v re-checks)", style="green")
            )
        else:
            chain.update(Text(f"audit chain: ✗ BROKEN at entry {result.first_bad} · {result.reason}", style="bold red"))
            self.notify(result.reason, title="Audit chain broken", severity="error", timeout=10, markup=False)

    def action_import_pack(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.background(
                    lambda: self._install(path), self._installed, title="Could not import the pack", group="intel"
                )

        self.app.push_screen(
            PathScreen(
                "Import a signed threat-intel pack (its key must be trusted: "
                "`edgeprompt firewall intel import --trust-key`)"
            ),
            chosen,
        )

    def _install(self, path: str) -> Any:
        """Verify and install like `firewall intel import`, and audit the import the same way."""
        from pathlib import Path

        from edgeprompt.errors import UsageError
        from edgeprompt.firewall import intel
        from edgeprompt.signing import trust_store
        from edgeprompt.store.audit import AuditLog

        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from e
        done = intel.install(self.rt.paths, self.rt.db, data, trust_store(self.rt.home))
        AuditLog(self.rt.db).append("firewall.intel", {"action": "import", **done.as_dict()})
        return done

    def _installed(self, done: Any) -> None:
        self.notify(
            f"Installed {done.kind} {done.name} {done.version}; the firewall uses it from the next start",
            title="Intel pack",
            markup=False,
        )
        self.action_reload()
        self.action_verify()

    @on(DataTable.RowSelected, "#events")
    def open_event(self, event: DataTable.RowSelected) -> None:
        e = next((x for x in self.entries if str(x.seq) == event.row_key.value), None)
        if e is not None:
            body = json.dumps(
                asdict(e),
                indent=2,
                ensure_ascii=False,
            )
            self.app.push_screen(TextScreen(f"audit entry {e.seq} · {e.kind}", body))
