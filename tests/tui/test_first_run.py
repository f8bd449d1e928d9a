"""The app's first five minutes: what a new user sees before installing a model."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets._footer import FooterKey
from tui_helpers import SIZE, errors, settle, write_docs

from edgeprompt.catalog.recommend import recommend
from edgeprompt.tui.bubbles import Bubble
from edgeprompt.tui.footer import KeyFooter
from edgeprompt.tui.offer import SKIP, OfferScreen
from edgeprompt.tui.sessions import SessionItem, clip, when
from edgeprompt.tui.widgets import ConfirmScreen, PickScreen


async def ask(app, pilot, question: str):  # type: ignore[no-untyped-def]
    """Type a question, send it, wait for the answer and the layout after it; returns the conversation."""
    app.screen.question.value = question
    await pilot.press("enter")
    await settle(app, pilot)
    await pilot.pause()
    return app.screen.conversation


async def test_fresh_home_says_how_to_get_a_model(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(model=None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        notice = [b for b in app.screen.query(Bubble) if b.role == "notice"]
        assert len(notice) == 1
        text = notice[0].markdown.source
        assert "No generative model is installed" in text and "edgeprompt setup" in text and "ctrl+g" in text
        assert "docs add" in text
        assert not errors(app)


async def test_model_picker_offers_no_test_fake_and_cuts_no_text(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app(model=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, PickScreen)
        options = app.screen.query_one("#choices")
        prompts = {
            options.get_option_at_index(i).id: str(options.get_option_at_index(i).prompt)
            for i in range(options.option_count)
        }
        assert "echo" not in prompts and {"auto", "extractive"} <= set(prompts)
        described = app.runtime.catalog.get("extractive").description
        assert described in prompts["extractive"]  # the whole description, on its own line
        assert "edgeprompt setup" in app.screen.title_text
        title = app.screen.query_one(".title")
        assert title.region.height >= 3 and title.region.right <= 80  # wrapped, not cut at the dialog's edge
        assert not errors(app)


def test_session_titles_are_clipped_with_an_ellipsis_and_dated() -> None:
    assert clip("a short title") == "a short title"
    long = clip("what is the capital of France and how many people live there")
    assert len(long) <= 24 and long.endswith("…")
    now = time.mktime((2026, 12, 5, 18, 0, 0, 0, 0, -1))
    assert when(now - 3600, now) == "today 17:00"
    assert when(now - 3 * 86400, now) == "02 Dec 18:00"
    assert when(now - 400 * 86400, now).endswith("2025")


async def test_chat_list_shows_titles_and_dates_not_ids(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    rt = app.runtime
    sid = rt.sessions.create().id
    rt.sessions.add_exchange(sid, "what is the capital of France and how many people live there", "Paris", None)
    empty = rt.sessions.create().id  # started, never asked: no title yet
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        labels = {i.session_id: str(i.query_one("Label").render()) for i in app.screen.query(SessionItem)}
        assert labels[sid].startswith("what is the capital of…") and "today" in labels[sid]
        assert "1 question" in labels[sid]
        assert sid not in labels[sid] and empty not in labels[empty] and "untitled chat" in labels[empty]
        assert not errors(app)


async def test_a_long_answer_scrolls_into_view(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    long = " ".join(f"line{i}" for i in range(400))
    async with app.run_test(size=(80, 24)) as pilot:
        conv = await ask(app, pilot, long)
        answer = app.screen.answers()[-1]
        assert conv.max_scroll_y > 0 and conv.scroll_y == conv.max_scroll_y
        assert answer.region.bottom <= conv.region.bottom and answer.region.bottom > conv.region.y
        assert not errors(app)


async def test_footer_shows_the_screen_keys_at_80x24(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.pause(0.2)  # the footer composes its keys after the first refresh
        footer = app.screen.query_one(KeyFooter)
        keys = {k.key.split(",")[0]: k for k in footer.query(FooterKey)}
        for key in ("f1", "f2", "f3", "f4", "f5", "f6", "f10"):
            assert key in keys, key
            region = keys[key].region
            assert region.width > 0 and region.right <= 80, (key, region)
        assert str(keys["f2"].description) == "Docs"  # short names below 110 columns
        # no key cut at the edge ("esc Stop/"): one that does not fit whole is left out (F10 lists it)
        assert footer.max_scroll_x == 0 and all(k.region.right <= 80 for k in keys.values())
        await pilot.resize_terminal(110, 32)
        await pilot.pause(0.2)
        footer = app.screen.query_one(KeyFooter)
        shown = list(footer.query(FooterKey))
        assert len(shown) > len(keys) and footer.max_scroll_x == 0 and all(k.region.right <= 110 for k in shown)
        assert "Documents" in {str(k.description) for k in shown}


async def test_a_reopened_chat_shows_its_saved_sources(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    rt = app.runtime
    sid = rt.sessions.create().id
    rt.sessions.add_exchange(
        sid,
        "when is the rent due?",
        "On the first day [1].",
        None,
        meta={
            "model": "echo",
            "sources": [{"n": 1, "path": "/home/me/lease.md", "location": "lines 3-5", "cited": True}],
        },
    )
    async with app.run_test(size=SIZE) as pilot:
        app.screen.load_session(sid)
        await settle(app, pilot)
        answer = app.screen.answers()[-1]
        sources = answer.query_one(".sources")
        assert answer.citation(1)["path"] == "/home/me/lease.md"
        assert sources.display and "lease.md" in str(sources.render())
        assert not errors(app)


GIB = 1024**3


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine, pinned: 16 GiB, the onnx backend, no build tools (the offer depends on all three)."""
    import edgeprompt.catalog.extras as extras
    import edgeprompt.catalog.recommend as recommend

    monkeypatch.setattr(recommend, "machine_ram", lambda: 16 * GIB)
    monkeypatch.setattr(recommend, "machine_backend", lambda: "onnx")
    monkeypatch.setattr(extras, "have_build_tools", lambda: False)


def _offered(app: Any) -> dict[str, str]:
    options = app.screen.query_one("#choices")
    return {
        options.get_option_at_index(i).id: str(options.get_option_at_index(i).prompt)
        for i in range(options.option_count)
    }


async def test_first_start_offers_this_machines_models_and_remembers_a_skip(  # type: ignore[no-untyped-def]
    make_app, machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgeprompt.catalog.pull as pull

    monkeypatch.setattr(pull, "plan", lambda *a, **k: pytest.fail("nothing is downloaded without a yes"))
    app = make_app(model=None, offer=True)
    expected = recommend(16 * GIB, "onnx", False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, OfferScreen)
        offered = _offered(app)
        assert list(offered) == [c.id for c in expected] + [SKIP] and 3 <= len(expected) <= 6
        first = expected[0]
        label = offered[first.id]
        assert f"{first.download_gb:.1f} GB download" in label and f"{first.memory_gb:.1f} GB memory at 4k" in label
        assert first.speed in label and first.license in label and "Esc to skip" in app.screen.title_text
        assert all(len(line) <= 66 for text in offered.values() for line in text.splitlines())  # the list's width at 80
        await pilot.press("enter")  # the first model: a question comes before any download
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and f"{first.download_gb:.1f} GB" in app.screen.body
        assert first.repo in app.screen.body
        await pilot.press("n")  # no: back to the choices, nothing downloaded
        await pilot.pause()
        assert isinstance(app.screen, OfferScreen)
        options = app.screen.query_one("#choices")
        options.highlighted = options.option_count - 1  # Skip
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, OfferScreen | ConfirmScreen)
        assert app.runtime.first_run().declined
        assert not errors(app)
    again = make_app(model=None, offer=True)  # the next start does not ask again
    async with again.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not isinstance(again.screen, OfferScreen)
        await pilot.press("ctrl+g")  # unless asked
        await pilot.pause()
        assert isinstance(again.screen, OfferScreen)
        await pilot.press("escape")  # Esc is a skip too
        await pilot.pause()
        assert not isinstance(again.screen, OfferScreen)


async def test_a_yes_downloads_the_model_and_it_becomes_the_default(  # type: ignore[no-untyped-def]
    make_app, machine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the hub is faked (its file list and the bytes it sends); the checks, install and card are real."""
    import huggingface_hub

    import edgeprompt.catalog.pull as pull

    config = {"model": {"context_length": 4096, "type": "qwen2", "decoder": {"filename": "model.onnx"}}}
    served = {"genai_config.json": json.dumps(config).encode(), "model.onnx": b"weights", "tokenizer.json": b"{}"}
    files = tuple(pull.RemoteFile(n, len(b), hashlib.sha256(b).hexdigest(), None) for n, b in served.items())
    plans: list[str] = []

    def plan(repo_id: str, revision: str | None = None) -> pull.PullPlan:
        plans.append(repo_id)
        return pull.PullPlan(repo_id, "c0ffee" * 6, "onnx", "", files, "apache-2.0")

    def snapshot_download(repo_id: str, local_dir: str, **kwargs: Any) -> str:
        for name, data in served.items():
            (Path(local_dir) / name).write_bytes(data)
        return local_dir

    monkeypatch.setattr(pull, "plan", plan)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    app = make_app(model=None, offer=True)
    first = recommend(16 * GIB, "onnx", False)[0]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, OfferScreen)
        await pilot.press("enter", "y")  # the first model, then yes to its download
        await settle(app, pilot)
        assert plans == [first.repo], errors(app)
        assert not errors(app)
        assert app.runtime.catalog.get(first.id).path_for("onnx") is not None
        assert app.runtime.default_model_id() == first.id
        assert not [b for b in app.screen.query(Bubble) if b.role == "notice"]  # "no model" is no longer said
        assert f"default {first.id}" in str(app.screen.query_one("#status").render())
        assert not errors(app)


async def test_chat_list_leaves_out_one_off_asks_but_search_finds_them(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    rt = app.runtime
    asks = [rt.sessions.create(kind="ask").id for _ in range(15)]  # fifteen `edgeprompt ask hello`
    for sid in asks:
        rt.sessions.add_exchange(sid, "hello", "hello", None)
    chat = rt.sessions.create().id
    rt.sessions.add_exchange(chat, "plan the garden", "Tomatoes first.", None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = [i.session_id for i in app.screen.query(SessionItem) if i.session_id]
        assert shown == [chat]
        await pilot.press("ctrl+f", *"hello")
        await pilot.pause()
        shown = [i.session_id for i in app.screen.query(SessionItem) if i.session_id]
        assert sorted(shown) == sorted(asks)
        assert not errors(app)


async def test_an_answer_with_sources_ends_in_view_at_80x24(make_app, user_home: Path) -> None:  # type: ignore[no-untyped-def]
    """The sources line and a status line that wraps to two rows come after the text: the end stays in view."""
    app = make_app(model=None)  # auto: the extractive quoter answers from the documents
    app.runtime.documents().indexer.add([write_docs(user_home)])
    async with app.run_test(size=(80, 24)) as pilot:
        for question in ("When is the monthly rent paid?", "When is the deposit returned?"):
            conv = await ask(app, pilot, question)
            answer = app.screen.answers()[-1]
            sources = answer.query_one(".sources")
            assert sources.display and "lease.md" in str(sources.render()), (answer.text, answer.citations)
            assert conv.scroll_y == conv.max_scroll_y
            assert sources.region.bottom <= conv.region.bottom and sources.region.height > 0
        assert not errors(app)


async def test_a_question_and_a_notice_waste_no_rows(make_app) -> None:  # type: ignore[no-untyped-def]
    """No empty meta line and no paragraph margin under the last line: more of the answer fits at 80x24."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.question.value = "hello there"
        await pilot.press("enter")
        await settle(app, pilot)
        question = next(b for b in app.screen.query(Bubble) if b.role == "user")
        assert question.region.height == 2  # "You" and the question
        answer = app.screen.answers()[-1]
        assert answer.region.height == 3  # "Assistant", the answer, its meta line
        assert not errors(app)
