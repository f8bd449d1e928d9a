"""Pilot tests of the chat screen: ask, stream, rate, copy, edit, stop, pick a model, sessions."""

from __future__ import annotations

import asyncio

import pytest
from tui_helpers import SIZE, SlowEcho, errors, settle

from edgeprompt.store.feedback import FeedbackStore
from edgeprompt.tui.bubbles import Bubble
from edgeprompt.tui.chat import ChatScreen
from edgeprompt.tui.observatory import ObservatoryScreen
from edgeprompt.tui.widgets import AskScreen, ConfirmScreen, EditScreen, PickScreen


async def ask(app, pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text)
    await pilot.press("enter")
    await settle(app, pilot)


async def test_question_box_is_focused_and_answer_streams(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert app.focused is screen.query_one("#question")
        await ask(app, pilot, "hello there")
        bubbles = list(screen.query(Bubble))
        assert [b.role for b in bubbles] == ["user", "assistant"]
        assert bubbles[1].markdown.source.strip() == "hello there"
        assert bubbles[1].trace_id is not None
        assert screen.session_id is not None
        status = str(screen.query_one("#status").render())
        assert "echo" in status and "ctx sys" in status and "free" in status and "firewall" in status
        assert not errors(app)


async def test_ask_thumbs_up_is_counted_in_the_observatory(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(app, pilot, "what is the capital of France")
        screen = app.screen
        answer = screen.answers()[-1]
        await pilot.press("up")  # select the answer
        assert app.focused is answer
        await pilot.press("plus")
        await settle(app, pilot)
        assert answer.rating == 1
        rows = FeedbackStore(app.runtime.db).for_trace(answer.trace_id)
        assert [(f.kind, f.score) for f in rows] == [("thumbs", 1)]
        await pilot.press("escape", "f5")
        await settle(app, pilot)
        obs = app.screen
        assert isinstance(obs, ObservatoryScreen)
        assert obs.report is not None and obs.report["feedback"]["up"] == 1
        assert obs.report["requests"] == 1
        assert "👍 1 up" in str(obs.query_one("#overview-text").render())
        assert not errors(app)


async def test_copy_and_edit_an_answer(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(app, pilot, "the answer to copy")
        screen = app.screen
        answer = screen.answers()[-1]
        await pilot.press("up", "c")
        assert app.clipboard == "the answer to copy"
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EditScreen)
        app.screen.query_one("#editor").text = "a better answer"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert answer.text == "a better answer"
        edits = [f for f in FeedbackStore(app.runtime.db).for_trace(answer.trace_id) if f.kind == "edit"]
        assert [(e.original, e.edited) for e in edits] == [("the answer to copy", "a better answer")]
        turns = app.runtime.sessions.turns(screen.session_id)
        assert turns[-1].content == "a better answer" and turns[-1].meta["edited"] is True
        assert not errors(app)


@pytest.mark.slow  # a long terminal-app session
async def test_edit_an_answer_of_a_reopened_chat(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(app, pilot, "first")
        await ask(app, pilot, "second")
        screen = app.screen
        sid = screen.session_id
        screen.load_session(sid)  # reopened: each answer knows its stored turn
        await pilot.pause()
        screen.answers()[0].focus()
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#editor").text = "edited first"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        answers = [t for t in app.runtime.sessions.turns(sid) if t.role == "assistant"]
        assert [t.content for t in answers] == ["edited first", "second"]
        assert answers[0].meta["edited"] is True and "edited" not in answers[1].meta
        assert not errors(app)


async def test_escape_stops_a_long_answer_and_keeps_what_was_written(make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    slow = SlowEcho()
    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app.runtime, "backend", lambda *a, **k: slow)
        screen = app.screen
        await pilot.press(*"tell me everything", "enter")
        for _ in range(200):  # until some words have streamed in (the input stays live meanwhile)
            await asyncio.sleep(0.02)
            if screen.current is not None and "word3" in screen.current.markdown.source:
                break
        assert screen.cancel_event is not None, "the answer must still be running"
        await pilot.press(*"next")  # typing works while the answer streams
        assert screen.query_one("#question").value == "next"
        await pilot.press("escape")
        await settle(app, pilot)
        answer = screen.answers()[-1]
        assert "stopped" in answer.meta
        assert "word0" in answer.text and "word1999" not in answer.text
        turns = app.runtime.sessions.turns(screen.session_id)
        assert turns[-1].meta["interrupted"] is True
        assert not errors(app)


async def test_model_picker_sets_the_model(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(model=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        options = app.screen.query_one("#choices")
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "echo" not in ids  # a test fake, never offered
        options.highlighted = ids.index("extractive")
        await pilot.press("enter")
        await pilot.pause()
        assert app.model == "extractive"
        assert "extractive · ready" in str(app.screen.query_one("#status").render())


@pytest.mark.slow  # a long terminal-app session
async def test_sessions_rename_search_and_delete(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(app, pilot, "apples and pears")
        first = app.screen.session_id
        await pilot.press("ctrl+n")
        await ask(app, pilot, "bananas")
        rt = app.runtime
        assert len(rt.sessions.list()) == 2
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, AskScreen)
        app.screen.query_one("#answer").value = ""
        await pilot.press(*"Fruit talk", "enter")
        await pilot.pause()
        assert rt.sessions.get(app.screen.session_id).title == "Fruit talk"
        await pilot.press("ctrl+f", *"apples")
        await pilot.pause()
        items = [i.session_id for i in app.screen.query("SessionItem")]
        assert items == [None, first]
        await pilot.press("enter", "enter")  # from the search box to the first match, and open it
        await pilot.pause()
        assert app.screen.session_id == first
        assert [b.role for b in app.screen.query(Bubble)] == ["user", "assistant"]
        await pilot.press("ctrl+f")
        await pilot.press(*["backspace"] * 6, "enter", "delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
        assert [s.id for s in rt.sessions.list()] == [first]  # the newest, "Fruit talk", is gone
        assert not errors(app)


async def test_a_reopened_chat_without_answers_is_titled_by_its_first_question(make_app) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.tui.sessions import SessionItem

    app = make_app()
    sid = app.runtime.sessions.create().id  # e.g. started by attaching a file, then left
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.load_session(sid)
        await ask(app, pilot, "what is the title now")
        listed = {i.session_id: i.title for i in screen.query(SessionItem)}
        assert listed[sid] == "what is the title now"  # not the id
        assert not errors(app)


def test_status_line_leaves_out_empty_parts_and_fits_80_columns() -> None:
    from edgeprompt.pipeline import AskResult
    from edgeprompt.tui.chat import status_line

    ctx = {"documents_tokens": 233, "system_tokens": 351, "history_tokens": 0, "budget": 8000, "prompt_tokens": 430}
    fresh = AskResult("a", "extractive", "s", "t", {}, {}, backend="extractive", context=ctx)
    line = status_line(fresh)
    assert line == "extractive · quoted · ctx sys 118 · docs 233 · free 7570 · firewall allow"
    assert len(line) <= 78  # one row of an 80-column screen, inside the status bar's padding
    cached = status_line(AskResult("a", "echo", "s", "t", {}, {"tokens_per_s": 0.0}, cached=True, context=ctx))
    assert cached == "echo · cached · ctx sys 118 · docs 233 · free 7570 · firewall allow"
