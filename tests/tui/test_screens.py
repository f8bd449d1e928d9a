"""Every screen one key away, the help screen, the palette, themes, errors as notifications, 80×24."""

from __future__ import annotations

import pytest
from textual.command import CommandPalette
from tui_helpers import SIZE, errors, settle

from edgeprompt.tui.chat import ChatScreen
from edgeprompt.tui.documents import DocumentsScreen
from edgeprompt.tui.federation import FederationScreen
from edgeprompt.tui.help import HelpScreen
from edgeprompt.tui.observatory import ObservatoryScreen
from edgeprompt.tui.prompts import PromptsScreen
from edgeprompt.tui.security import SecurityScreen

SCREENS = [
    ("f1", ChatScreen),
    ("f2", DocumentsScreen),
    ("f3", PromptsScreen),
    ("f4", SecurityScreen),
    ("f5", ObservatoryScreen),
    ("f6", FederationScreen),
]


@pytest.mark.parametrize("size", [SIZE, (80, 24)])
@pytest.mark.slow  # opens every screen, at two sizes
async def test_every_screen_is_one_key_away(make_app, size) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=size) as pilot:
        for key, cls in [*SCREENS[1:], SCREENS[0]]:
            await pilot.press(key)
            await settle(app, pilot)
            assert isinstance(app.screen, cls), key
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        for words in ("Stop/back", "Verify chain", "Promote", "Watch on/off", "Join", "👍 Good"):
            assert words in text
        await pilot.press("escape")
        assert isinstance(app.screen, ChatScreen)
        assert not errors(app)


async def test_usable_at_80x24(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        question = app.screen.query_one("#question")
        assert app.focused is question
        assert question.region.bottom <= 23 and question.region.width >= 40
        await pilot.press(*"hello small terminal", "enter")
        await settle(app, pilot)
        answer = app.screen.answers()[-1]
        assert answer.markdown.source.strip() == "hello small terminal"
        assert answer.region.height > 0 and answer.region.right <= 80
        assert app.screen.query_one("#status").region.height >= 1


@pytest.mark.slow  # opens screens through the palette
async def test_command_palette_reaches_screens_and_actions(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go to security")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SecurityScreen)
        await pilot.press("f1", "ctrl+p")
        await pilot.pause()
        await pilot.press(*"new chat")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen) and app.focused is app.screen.query_one("#question")


async def test_theme_toggles_between_dark_and_light(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != before and app.theme in ("textual-dark", "textual-light")
        await pilot.press("ctrl+t")
        assert app.theme == before


async def test_an_error_in_the_answer_worker_is_a_notification(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:

        def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("the model fell over")

        monkeypatch.setattr(app.runtime, "backend", broken)
        await pilot.press(*"hello", "enter")
        await settle(app, pilot)
        assert errors(app) == ["RuntimeError: the model fell over"]
        assert app.screen.cancel_event is None  # ready for the next question
        assert app.screen.answers() == []


async def test_an_error_in_a_background_job_is_a_notification(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import edgeprompt.observatory.report as report

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("no [bold]markup[/] trouble either")

    monkeypatch.setattr(report, "build_report", broken)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await settle(app, pilot)
        assert isinstance(app.screen, ObservatoryScreen)
        assert errors(app) == ["ValueError: no [bold]markup[/] trouble either"]


async def test_an_unknown_model_is_a_notification_not_a_crash(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(model="no-such-model")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hi", "enter")
        await settle(app, pilot)
        assert len(errors(app)) == 1 and "no-such-model" in errors(app)[0]
