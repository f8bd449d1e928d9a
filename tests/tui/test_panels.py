"""The prompts, security and federation screens: their actions through the keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from tui_helpers import SIZE, errors, seed_prompts, settle

from edgeprompt.prompts.spec import parse_spec
from edgeprompt.store.audit import AuditLog
from edgeprompt.tui.widgets import AskScreen, ConfirmScreen


def text_of(widget: Any) -> str:
    return str(widget.render())


@pytest.mark.slow  # runs prompt test suites in the terminal app
async def test_prompts_diff_test_promote_and_roll_back(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    seed_prompts(app.runtime)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await settle(app, pilot)
        screen = app.screen
        names = screen.query_one("#prompt-list")
        names.move_cursor(row=names.get_row_index("greet"))
        await settle(app, pilot)
        assert [v.seq for v in screen.versions] == [1, 2]
        screen.query_one("#versions").focus()  # newest first: @2 is selected
        await pilot.press("d")
        await settle(app, pilot)
        detail = text_of(screen.query_one("#detail-text"))
        assert "changed: template" in detail and "+template: Please greet {{ name }} warmly." in detail
        await pilot.press("t")
        await settle(app, pilot)
        assert "greet@2 on echo: 1/1 passed" in text_of(screen.query_one("#detail-text"))
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen) and app.screen.query_one("#answer").value == "production"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        reg = app.runtime.registry()
        assert reg.get(reg.labels.target("greet", "production")).seq == 2
        await pilot.press("b", "enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert reg.get(reg.labels.target("greet", "production")).seq == 1
        assert not errors(app)


@pytest.mark.slow  # runs prompt test suites in the terminal app
async def test_a_failing_suite_refuses_promotion_unless_forced(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    reg = app.runtime.registry()
    failing = parse_spec(
        {"name": "strict", "template": "Say hello.", "tests": [{"assert": [{"type": "contains", "value": "goodbye"}]}]},
        "test",
    )
    reg.push(failing, "tester")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await settle(app, pilot)
        names = app.screen.query_one("#prompt-list")
        names.move_cursor(row=names.get_row_index("strict"))
        await settle(app, pilot)
        app.screen.query_one("#versions").focus()
        await pilot.press("p", "enter", "y")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)  # "Tests did not pass — promote anyway?"
        await pilot.press("n")
        await settle(app, pilot)
        assert "production" not in reg.labels.of("strict")
        await pilot.press("p", "enter", "y")
        await settle(app, pilot)
        await pilot.press("y")  # force
        await settle(app, pilot)
        assert "production" in reg.labels.of("strict")
        assert AuditLog(app.runtime.db).entries(kind="prompt.promote.force")


async def test_security_lists_events_with_reasons_and_verifies_the_chain(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    audit = AuditLog(app.runtime.db)
    audit.append(
        "firewall.input",
        {
            "decision": "block",
            "score": 0.97,
            "categories": ["instruction_override"],
            "matched_rules": ["en-ignore-previous"],
        },
    )
    audit.append("firewall.document", {"decision": "flag", "score": 0.6, "categories": ["indirect_injection"]})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#events")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [str(r[2]) for r in rows] == ["firewall.document", "firewall.input"]
        assert str(rows[1][3]) == "block" and "instruction_override" in str(rows[1][4])
        assert "en-ignore-previous" in str(rows[1][4]) and "score 0.97" in str(rows[1][4])
        assert "✓ intact · 2 entries" in text_of(screen.query_one("#chain"))
        assert "rule pack" in text_of(screen.query_one("#intel"))
        await pilot.press("enter")
        await pilot.pause()
        assert "indirect_injection" in str(app.screen.body)  # the whole entry, as JSON
        assert not errors(app)


@pytest.mark.slow  # a long terminal-app session
async def test_federation_shows_the_budget_and_refuses_a_bad_address(make_app) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.federation.ledger import PrivacyLedger

    app = make_app()
    ledger = PrivacyLedger(app.runtime.db)
    ledger.record("firewall", "run-1", 1, (1.1, 0.05, 40), 1e-5, 200)
    ledger.log_event("trained", "firewall", "run-1", 1, {"loss": 0.42, "accuracy": 0.9})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await settle(app, pilot)
        screen = app.screen
        spent = screen.status["budgets"][0]
        assert spent["task"] == "firewall" and spent["epsilon"] > 0 and spent["releases"] == 1
        labels = " ".join(text_of(label) for label in screen.query("#budgets Label"))
        assert "firewall" in labels and "(1 rounds" in labels
        rounds = screen.query_one("#rounds")
        assert str(rounds.get_row_at(0)[0]) == "trained" and "loss=0.42" in str(rounds.get_row_at(0)[4])
        assert "not running" in text_of(screen.query_one("#node"))
        await pilot.press("j")
        await pilot.pause()
        await pilot.press(*"not an address", "enter")
        await pilot.pause()
        assert len(errors(app)) == 1
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("y")
        await settle(app, pilot)
        assert any("No SuperNode was running" in n.message for n in app._notifications)
