"""Add a folder → indexed (with progress) → a cited answer whose source opens at the cited lines; search;
attach a file to a chat; remove."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import SIZE, errors, settle, write_docs

from edgeprompt.tui.documents import DocumentsScreen
from edgeprompt.tui.widgets import ConfirmScreen, PathScreen, TextScreen


async def add_path(app, pilot, path: Path) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, PathScreen)
    app.screen.query_one("#answer").value = str(path)
    await pilot.press("enter")
    await settle(app, pilot)


@pytest.mark.slow  # indexes a folder in the terminal app
async def test_add_a_folder_then_a_cited_answer_opens_its_source(make_app, user_home) -> None:  # type: ignore[no-untyped-def]
    folder = write_docs(user_home)
    app = make_app(model="extractive")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DocumentsScreen)
        await add_path(app, pilot, folder)
        table = screen.query_one("#docs")
        paths = [str(table.get_row_at(i)[3]) for i in range(table.row_count)]
        assert paths == ["~/docs", "~/docs/garden.md", "~/docs/lease.md"]
        assert "2 documents" in str(screen.query_one("#doc-summary").render())
        assert not screen.busy and "busy" not in screen.query_one("#progress-row").classes

        await pilot.press("slash", *"deposit returned", "enter")
        await settle(app, pilot)
        hits = screen.query_one("#hits")
        assert hits.row_count >= 1 and "lease.md" in str(hits.get_row_at(0)[2])

        await pilot.press("f1", *"How much is the monthly rent?", "enter")
        await settle(app, pilot)
        answer = app.screen.answers()[-1]
        assert "1200" in answer.text
        cited = [c for c in answer.citations if c["cited"]]
        assert cited and cited[0]["path"].endswith("lease.md")
        assert "Sources:" in str(answer.query_one("Sources").render())
        await pilot.press("up", str(cited[0]["n"]))
        await settle(app, pilot)
        assert isinstance(app.screen, TextScreen)
        shown = app.screen.body
        assert "monthly rent is 1200" in shown.plain
        assert any(span.style == "reverse" for span in shown.spans)  # the cited lines are highlighted
        await pilot.press("escape")
        assert not errors(app)


@pytest.mark.slow  # indexes a file in the terminal app
async def test_attach_a_file_to_the_chat(make_app, user_home) -> None:  # type: ignore[no-untyped-def]
    folder = write_docs(user_home)
    app = make_app(model="extractive")
    app.runtime.documents().indexer.add([folder / "lease.md"])  # already in the library, not attached
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, PathScreen)
        app.screen.query_one("#answer").value = str(folder / "garden.md")
        await pilot.press("enter")
        await settle(app, pilot)
        chat = app.screen
        assert chat.attached == [str((folder / "garden.md").resolve())] and chat.session_id is not None
        note = [b for b in chat.query("Bubble") if b.role == "attachment"]
        assert len(note) == 1 and "~/docs/garden.md" in note[0].text
        await pilot.press(*"How many hours of sun do tomatoes need?", "enter")
        await settle(app, pilot)
        answer = chat.answers()[-1]
        assert "six hours" in answer.text
        assert any(c["path"].endswith("garden.md") for c in answer.citations)
        # while attached, the chat answers from the attachment only: the indexed lease is not searched
        await pilot.press(*"What is the monthly rent?", "enter")
        await settle(app, pilot)
        answer = chat.answers()[-1]
        assert "1200" not in answer.text and all(c["path"].endswith("garden.md") for c in answer.citations)
        # the attachment belongs to the chat: reopened later, it still answers from it
        sid = chat.session_id
        assert app.runtime.sessions.get(sid).title.startswith("How many hours")  # titled by its first question
        from edgeprompt.tui.sessions import SessionItem

        listed = {i.session_id: i.title for i in chat.query(SessionItem)}
        assert listed[sid].startswith("How many hours")  # and the list shows that title, not the id
        assert app.runtime.sessions.attachments(sid) == [str((folder / "garden.md").resolve())]
        chat.load_session(None)
        assert chat.attached == []
        chat.load_session(sid)
        await pilot.pause()
        assert chat.attached == [str((folder / "garden.md").resolve())]
        assert any(b.role == "attachment" and "garden.md" in b.text for b in chat.query("Bubble"))
        assert not errors(app)


async def test_a_file_that_cannot_be_indexed_is_a_notification(make_app, user_home) -> None:  # type: ignore[no-untyped-def]
    bad = user_home / "picture.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#answer").value = str(bad)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.attached == []
        assert len(errors(app)) == 1


@pytest.mark.slow  # indexes a folder in the terminal app
async def test_remove_a_document(make_app, user_home) -> None:  # type: ignore[no-untyped-def]
    folder = write_docs(user_home)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await settle(app, pilot)
        await add_path(app, pilot, folder)
        screen = app.screen
        screen.query_one("#docs").move_cursor(row=1)  # ~/docs/garden.md
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        docs = [d.path for d in app.runtime.documents().store.documents()]
        assert docs == [str(folder / "lease.md")]
        assert not errors(app)
