"""Snapshots of every screen at 100×30 (pytest-textual-snapshot; update with --snapshot-update).

The content is made deterministic: seeded rows with fixed times (TZ=UTC), paths under a fake HOME shown
as ~/…, no clocks, no generated ids on screen, and notifications cleared before the picture."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tui_helpers import SIZE, seed_prompts, settle, write_docs

from edgeprompt.store.audit import AuditLog

T0 = 1736157600.0  # 2025-01-06 10:00 UTC


def seed_chat(rt: Any) -> None:
    s = rt.sessions.create(title="Lease questions", model="echo")
    rt.sessions.add_exchange(
        s.id, "When is the rent due?", "On the **first day** of each month [1].", None, meta={"model": "echo"}
    )
    rt.sessions.add_exchange(
        s.id, "And the deposit?", "Two months of rent, returned within thirty days.", None, meta={"model": "echo"}
    )
    rt.sessions.create(title="Garden planning", model="echo")
    with rt.db.transaction() as c:  # the list shows each chat's date: a fixed one keeps the picture still
        c.execute("UPDATE sessions SET created_at = ?, updated_at = ?", (T0, T0))


def seed_traces(rt: Any) -> None:
    """Six answers over two days: fixed durations, two cache hits, four thumbs (three up), one cut off."""
    day = 86400
    rows = [
        (T0, 820.0, "exact", 1, "stop"),
        (T0 + 600, 1430.0, None, -1, "length"),
        (T0 + 3600, 640.0, None, 1, "stop"),
        (T0 + day, 95.0, "semantic", 1, "stop"),
        (T0 + day + 1800, 1210.0, None, None, "stop"),
        (T0 + day + 7200, 990.0, None, None, "stop"),
    ]
    with rt.db.transaction() as c:
        for i, (t, ms, level, thumbs, finish) in enumerate(rows):
            tid = f"trace{i}"
            attrs = {
                "gen_ai.request.model": "echo",
                "gen_ai.usage.input_tokens": 40 + 10 * i,
                "gen_ai.usage.output_tokens": 20 + i,
                "edgeprompt.finish_reason": finish,
                "edgeprompt.cache.hit": level is not None,
                "edgeprompt.cache.level": level or "miss",
            }
            c.execute(
                "INSERT INTO traces(id, started_at, duration_ms, operation, session_id, model, status, "
                "attributes) VALUES (?,?,?,?,?,?,?,?)",
                (tid, t, ms, "chat", None, "echo", "ok", json.dumps(attrs)),
            )
            for seq, (name, share) in enumerate((("retrieval", 0.2), ("generate", 0.7), ("session.save", 0.1))):
                span = {"edgeprompt.tokens_per_s": 25.0 + i} if name == "generate" else {}
                c.execute(
                    "INSERT INTO trace_spans(trace_id, seq, name, start_ms, duration_ms, attributes) "
                    "VALUES (?,?,?,?,?,?)",
                    (tid, seq, name, 0.0, ms * share, json.dumps(span)),
                )
            if thumbs is not None:
                c.execute(
                    "INSERT INTO feedback(trace_id, kind, score, created_at) VALUES (?,?,?,?)",
                    (tid, "thumbs", thumbs, t + 60),
                )


def seed_audit(rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    audit = AuditLog(rt.db)
    events = [
        (
            "firewall.input",
            {
                "decision": "block",
                "score": 0.97,
                "categories": ["instruction_override"],
                "matched_rules": ["en-ignore-previous"],
            },
        ),
        ("firewall.document", {"decision": "flag", "score": 0.61, "categories": ["indirect_injection"]}),
        ("firewall.output", {"decision": "redact", "categories": ["email", "api_key"]}),
    ]
    for i, (kind, data) in enumerate(events):
        with monkeypatch.context() as m:
            m.setattr(time, "time", lambda i=i: T0 + 60 * i)
            audit.append(kind, data)


def seed_ledger(rt: Any) -> None:
    from edgeprompt.federation.ledger import PrivacyLedger

    ledger = PrivacyLedger(rt.db)
    for r in (1, 2):
        ledger.record("firewall", "run-7", r, (1.1, 0.05, 40), 1e-5, 200)
        ledger.log_event("trained", "firewall", "run-7", r, {"loss": 0.5 - 0.1 * r, "epsilon": 0.8 * r})


async def _go(pilot: Any, *keys: str) -> None:
    from textual.widgets import Input

    app = pilot.app
    await pilot.press(*keys)
    await settle(app, pilot)
    app.clear_notifications()
    for box in app.screen.query(Input):  # a blinking cursor makes the picture depend on the clock
        box.cursor_blink = False
    await pilot.pause()


def pressing(*keys: str) -> Callable[[Any], Awaitable[None]]:
    """A `run_before` that presses `keys` and waits until the picture is still."""
    return lambda pilot: _go(pilot, *keys)


def test_snapshot_chat(make_app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    seed_chat(app.runtime)
    assert snap_compare(app, terminal_size=SIZE, run_before=pressing("ctrl+f", *"Lease", "enter", "enter"))


def test_snapshot_documents(make_app, user_home: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    app.runtime.documents().indexer.add([write_docs(user_home)])
    assert snap_compare(app, terminal_size=SIZE, run_before=pressing("f2", "slash", *"deposit returned", "enter"))


def test_snapshot_prompts(make_app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    seed_prompts(app.runtime)

    async def run_before(pilot: Any) -> None:
        await _go(pilot, "f3")
        names = pilot.app.screen.query_one("#prompt-list")
        names.move_cursor(row=names.get_row_index("greet"))
        await settle(pilot.app, pilot)
        pilot.app.screen.query_one("#versions").focus()
        await _go(pilot, "d")

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_security(make_app, monkeypatch: pytest.MonkeyPatch, snap_compare) -> None:  # type: ignore[no-untyped-def]
    import edgeprompt.tui.security as security

    app = make_app()
    seed_audit(app.runtime, monkeypatch)
    real = security.intel_summary(app.runtime)
    assert real[0].startswith("rule pack") and real[1].startswith("classifier")
    # the packs' versions, rule counts and training dates belong to the firewall's data and change with it
    monkeypatch.setattr(
        security,
        "intel_summary",
        lambda rt: ["rule pack   (masked in the snapshot)", "classifier  (masked in the snapshot)", real[-1]],
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=pressing("f4"))


@pytest.mark.parametrize("tab", ["overview", "latency", "feedback"])
def test_snapshot_observatory(make_app, snap_compare, tab: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    seed_traces(app.runtime)

    async def run_before(pilot: Any) -> None:
        await _go(pilot, "f5")
        screen = pilot.app.screen
        screen.since = "all"
        screen.action_reload()
        await settle(pilot.app, pilot)
        screen.query_one("TabbedContent").active = f"tab-{tab}"
        await _go(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


@pytest.mark.slow  # federation: the privacy ledger composes epsilon with Opacus (torch), seconds of import alone
def test_snapshot_federation(make_app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    seed_ledger(app.runtime)
    assert snap_compare(app, terminal_size=SIZE, run_before=pressing("f6"))


def test_snapshot_help(make_app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=pressing("f10"))
