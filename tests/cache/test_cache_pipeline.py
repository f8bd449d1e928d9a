"""The cache inside the request flow: hits are streamed and traced, thumbs-down evicts, offline fallback."""

from __future__ import annotations

from typing import Any

import pytest

from edgeprompt.errors import ModelLoadError
from edgeprompt.pipeline import Notice, Token
from edgeprompt.store.feedback import FeedbackStore


def test_second_ask_is_served_from_the_cache_and_traced(rt: Any, ask: Any) -> None:
    first, _ = ask("How do I renew my passport?")
    assert first.cached is False and first.cache == ""
    second, events = ask("How do I renew my passport?")
    assert (second.cached, second.cache, second.answer) == (True, "exact", first.answer)
    assert "".join(e.text for e in events if isinstance(e, Token)) == first.answer
    trace = rt.traces.get(second.trace_id)
    attrs = trace["attributes"]
    assert attrs["edgeprompt.cache.level"] == "exact"
    assert attrs["edgeprompt.cache.similarity"] == 1.0
    assert isinstance(attrs["edgeprompt.cache.entry_id"], int)
    names = [s["name"] for s in trace["spans"]]
    assert names.index("cache.lookup") < names.index("generate") < names.index("cache.store")
    third, _ = ask("How can I renew my passport?")
    assert (third.cached, third.cache) == (True, "semantic")
    assert rt.traces.get(third.trace_id)["attributes"]["edgeprompt.cache.similarity"] < 1.0
    stats = rt.cache().stats()
    assert stats["exact"]["hits"] == 1 and stats["semantic"]["hits"] == 1
    assert stats["template"]["hits"] >= 2  # the registry compiled the prompt version once for the three asks


def test_thumbs_down_evicts_and_blocks_the_answer(rt: Any, ask: Any) -> None:
    first, _ = ask("What is the capital of France?")
    FeedbackStore(rt.db).thumbs(first.trace_id, up=False)
    again, _ = ask("What is the capital of France?")
    assert again.cached is False
    store = next(s for s in rt.traces.get(again.trace_id)["spans"] if s["name"] == "cache.store")
    assert store["attributes"]["edgeprompt.cache.store_reason"] == "this answer was thumbed down"


def test_thumbs_down_on_a_served_answer_evicts_its_entry(rt: Any, ask: Any) -> None:
    ask("Which river runs through Paris?")
    served, _ = ask("Which river runs through Paris?")
    assert served.cached
    FeedbackStore(rt.db).thumbs(served.trace_id, up=False)
    assert ask("Which river runs through Paris?")[0].cached is False


def test_sampled_answer_is_not_stored_by_default(rt: Any, ask: Any) -> None:
    from edgeprompt.backends.base import GenerationParams

    params = GenerationParams(temperature=0.7, seed=3)
    ask("Tell me a story about a fox", params=params)
    assert ask("Tell me a story about a fox", params=params)[0].cached is False


def test_offline_fallback_serves_a_fresh_cached_answer(rt: Any, ask: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = ask("How do I renew my passport?")

    def broken(*a: Any, **k: Any) -> Any:
        raise ModelLoadError("weights missing")

    monkeypatch.setattr(rt, "backend", broken)
    result, events = ask("How do I renew my passport?")
    assert (result.cached, result.cache, result.answer) == (True, "fallback", first.answer)
    assert any(isinstance(e, Notice) and "cached answer" in e.text for e in events)
    trace = rt.traces.get(result.trace_id)
    assert trace["status"] == "ok" and trace["attributes"]["edgeprompt.cache.fallback_error"] == "ModelLoadError"
    with pytest.raises(ModelLoadError):  # nothing cached for this one: the error stands
        ask("What is the boiling point of water at 3000 m?")
    rt.db.conn.execute("UPDATE cache_entries SET created_at = created_at - 31 * 86400")
    with pytest.raises(ModelLoadError):  # too old to serve
        ask("How do I renew my passport?")


def test_cache_off_means_no_lookup_and_no_store(rt: Any, ask: Any) -> None:
    from edgeprompt.cache import Cache

    rt._parts["cache"] = Cache(
        rt.db, {**rt.settings.section("cache"), "enabled": False}, rt.embedder, 0.97, rt.paths.cache / "answers"
    )
    ask("How do I renew my passport?")
    assert ask("How do I renew my passport?")[0].cached is False


def test_documents_decide_the_key_and_seeds_answer_what_they_cannot(rt: Any, ask: Any, tmp_path: Any) -> None:
    from edgeprompt.pipeline import query_for_question

    ask("What is the capital of France?")  # no documents yet: stored under retrieval "off"
    doc = tmp_path / "lease.md"
    doc.write_text("# Lease\n\nThe lease ends on 31 March 2027. The rent is 950 euros a month.\n")
    rt.documents().indexer.add([doc])
    after, _ = ask("What is the capital of France?")
    assert after.cached is False  # the documents now take part: the old answer no longer matches
    seeded = "It is on the sticker under the router."
    rt.cache().store(query_for_question(rt, "What is the wifi password?", "echo"), seeded, source="seed")
    served, _ = ask("What is the wifi password?")
    assert (served.cached, served.answer, served.abstained) == (True, seeded, False)


def test_offline_fallback_when_the_model_fails_while_running(
    rt: Any, ask: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = ask("How do I renew my passport?")
    echo = rt.backend("echo")

    class Failing:
        name, model_id, context_length = "echo", "echo", echo.context_length
        count_tokens = staticmethod(echo.count_tokens)

        def stream(self, request: Any) -> Any:
            raise RuntimeError("out of memory on the accelerator")
            yield  # a generator, like every backend

        def close(self) -> None:
            return None

    monkeypatch.setattr(rt, "backend", lambda *a, **k: Failing())
    from edgeprompt.backends.base import GenerationParams

    # other parameters: no exact or semantic hit, so the model has to run, and fails
    result, _ = ask("How do I renew my passport?", save=False, params=GenerationParams(max_tokens=40))
    assert (result.cached, result.cache, result.answer) == (True, "fallback", first.answer)
    assert rt.traces.get(result.trace_id)["attributes"]["edgeprompt.cache.fallback_error"] == "RuntimeError"
