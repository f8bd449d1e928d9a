from __future__ import annotations

import pytest
from edgeprompt.tui.app import EdgepromptApp
from edgeprompt.tui.chat import Bubble, ChatScreen


@pytest.mark.asyncio
async def test_question_box_is_focused_and_answer_streams(data_home) -> None:  # type: ignore[no-untyped-def]
    app = EdgepromptApp(data_home, model="echo")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert app.focused is screen.query_one("#question")
        await pilot.press(*"hello there")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        bubbles = list(screen.query(Bubble))
        assert [b.role for b in bubbles] == ["user", "assistant"]
        assert bubbles[1].markdown.source.strip() == "hello there"
        assert bubbles[1].trace_id is not None
        assert screen.session_id is not None
        assert "echo" in str(screen.query_one("#status").render())
