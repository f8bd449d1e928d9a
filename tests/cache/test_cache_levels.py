"""The Cache seam with real SQLite + sqlite-vec and real MiniLM: levels, guards, TTL, invalidation, storing rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeprompt.backends.base import GenerationParams, Message
from edgeprompt.cache import Cache, SourceRef, build_query
from edgeprompt.cache.threshold import shipped, verifier_floor

NEAR_MISSES = Path(__file__).parent / "data" / "near_misses.jsonl"


def q(
    text: str,
    model: str = "m/echo@abc",
    prompt: str = "v1",
    temperature: float = 0.0,
    sources: tuple[SourceRef, ...] = (),
    system: str = "Be brief.",
) -> Any:
    return build_query(
        text,
        model,
        prompt,
        [Message("system", system), Message("user", text)],
        GenerationParams(temperature=temperature),
        sources,
    )


@pytest.fixture
def cache(rt: Any) -> Cache:
    return rt.cache()


def with_settings(rt: Any, **over: Any) -> Cache:
    s = {**rt.settings.section("cache"), **over}
    return Cache(rt.db, s, rt.embedder, shipped().threshold, rt.paths.cache / "answers")


def test_exact_hit_and_miss(cache: Cache) -> None:
    assert cache.lookup(q("How do I renew my passport?")).hit is False
    assert cache.store(q("How do I renew my passport?"), "At the passport office.", usage=(30, 6)).entry_id
    found = cache.lookup(q("How do I renew my passport?"))
    assert (found.hit, found.level, found.answer, found.similarity) == (True, "exact", "At the passport office.", 1.0)
    assert found.tokens_saved == 36
    # any part of the key changes it: parameters, system prompt
    assert (
        cache.lookup(
            build_query(
                "How do I renew my passport?",
                "m/echo@abc",
                "v1",
                [Message("system", "Be brief."), Message("user", "How do I renew my passport?")],
                GenerationParams(max_tokens=12),
            )
        ).level
        != "exact"
    )
    assert not cache.lookup(q("How do I renew my passport?", system="Be long.")).hit


def test_semantic_hit_passes_every_guard(cache: Cache) -> None:
    cache.store(q("How do I renew my passport?"), "At the passport office.")
    found = cache.lookup(q("How can I renew my passport?"))
    assert (found.hit, found.level) == (True, "semantic")
    assert found.similarity >= cache.threshold
    assert all(g["pass"] for g in found.guards.values())
    assert {
        "threshold",
        "model",
        "prompt",
        "params",
        "documents",
        "ttl",
        "numbers",
        "dates",
        "units",
        "entities",
        "negation",
        "persons",
    } <= set(found.guards)
    other = cache.lookup(
        build_query(
            "How can I renew my passport?",
            "m/echo@abc",
            "v1",
            [Message("system", "Be brief."), Message("user", "How can I renew my passport?")],
            GenerationParams(max_tokens=12),
        )
    )
    assert not other.hit and other.guards["params"]["pass"] is False


@pytest.mark.parametrize(
    ("stored", "asked", "guard"),
    [
        (
            "What is the rent for a 2 bedroom flat in my building?",
            "What is the rent for a 3 bedroom flat in my building?",
            "numbers",
        ),
        ("What meetings do I have on Monday?", "What meetings do I have on Tuesday?", "dates"),
        ("Convert 30 degrees Celsius to Kelvin", "Convert 30 degrees Fahrenheit to Kelvin", "units"),
        ("Is Paris bigger than London?", "Is London bigger than Paris?", "entities"),
        ("Which foods are safe for dogs?", "Which foods are not safe for dogs?", "negation"),
        ("When does my lease end?", "When does my sister's lease end?", "persons"),
    ],
)
def test_guards_veto_near_misses(rt: Any, stored: str, asked: str, guard: str) -> None:
    cache = with_settings(rt, semantic_threshold=0.5)
    cache.threshold = 0.5  # low enough that only the content gate stands between the two questions
    cache.store(q(stored), "an answer")
    found = cache.lookup(q(asked))
    assert not found.hit
    assert found.guards[guard]["pass"] is False
    assert found.cached_question == stored


def test_threshold_decides_between_near_neighbours(rt: Any) -> None:
    strict = with_settings(rt)
    strict.threshold = 0.999
    strict.store(q("How do I renew my passport?"), "At the office.")
    found = strict.lookup(q("How can I renew my passport?"))
    assert not found.hit and found.guards["threshold"]["pass"] is False
    loose = with_settings(rt)
    loose.threshold = 0.9
    assert loose.lookup(q("How can I renew my passport?")).hit


def test_nearest_vetoed_candidate_does_not_hide_a_valid_one(rt: Any) -> None:
    cache = with_settings(rt)
    cache.threshold = 0.8
    cache.store(q("What is the rent for a 2 bedroom flat?"), "1,200")
    cache.store(q("What is the rent for a 3 bedroom flat?"), "1,500")
    found = cache.lookup(q("What's the rent for a 3 bedroom flat?"))
    assert (found.hit, found.answer) == (True, "1,500")


def test_other_model_or_prompt_version_never_matches(cache: Cache) -> None:
    cache.store(q("How do I renew my passport?"), "At the office.")
    assert not cache.lookup(q("How do I renew my passport?", model="m/echo@NEWWEIGHTS")).hit
    assert not cache.lookup(q("How do I renew my passport?", prompt="v2")).hit  # the label moved to v2
    assert not cache.lookup(q("How can I renew my passport?", prompt="v2")).hit


def test_ttl_expiry(rt: Any, cache: Cache) -> None:
    cache.store(q("How do I renew my passport?"), "At the office.")
    rt.db.conn.execute("UPDATE cache_entries SET created_at = created_at - 8 * 86400")
    found = cache.lookup(q("How do I renew my passport?"))
    assert not found.hit and found.guards["ttl"]["pass"] is False
    assert not cache.lookup(q("How can I renew my passport?")).hit
    assert cache.expire() == 1
    assert cache.stats()["exact"]["entries"] == 0


def test_closing_drops_entries_past_every_ttl(rt: Any, cache: Cache) -> None:
    cache.store(q("How do I renew my passport?"), "At the office.")
    cache.store(q("Where is the station?"), "North of the square.")
    rt.db.conn.execute("UPDATE cache_entries SET created_at = created_at - 8 * 86400 WHERE question LIKE 'Where%'")
    cache.close()
    assert [r[0] for r in rt.db.query("SELECT question FROM cache_entries")] == ["How do I renew my passport?"]


def test_sampled_answers_are_kept_only_when_configured(rt: Any, cache: Cache) -> None:
    refused = cache.store(q("Tell me a story", temperature=0.8), "Once upon a time")
    assert refused.entry_id is None and "sampled" in refused.reason
    allowing = with_settings(rt, store_sampled=True)
    assert allowing.store(q("Tell me a story", temperature=0.8), "Once upon a time").entry_id
    assert allowing.lookup(q("Tell me a story", temperature=0.8)).hit


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"validated": False}, "output validation"),
        ({"finish": "cancelled"}, "cancelled"),
    ],
)
def test_unvalidated_or_cancelled_answers_are_not_stored(cache: Cache, kw: dict[str, Any], reason: str) -> None:
    assert reason in cache.store(q("What is 2 + 2?"), "4", **kw).reason
    assert cache.stats()["exact"]["entries"] == 0


def test_document_change_drops_the_answers_written_from_it(rt: Any, tmp_path: Path) -> None:
    doc = tmp_path / "lease.md"
    doc.write_text("# Lease\n\nThe lease ends on 31 March 2027. The rent is 950 euros a month.\n")
    lib = rt.documents()
    lib.indexer.add([doc])
    hits = lib.retriever.search("When does the lease end?", 3, None)
    assert hits
    sources = tuple(SourceRef(h.path, h.chunk_id, h.doc_sha256) for h in hits)
    cache = rt.cache()
    cache.store(q("When does the lease end?", sources=sources), "31 March 2027 [1]")
    cache.store(q("What is the capital of France?"), "Paris")
    assert cache.lookup(q("When does the lease end?", sources=sources)).hit
    doc.write_text("# Lease\n\nThe lease ends on 30 June 2028. The rent is 990 euros a month.\n")
    lib.indexer.reindex()
    assert not cache.lookup(q("When does the lease end?", sources=sources)).hit
    assert cache.stats()["exact"]["entries"] == 1  # the unrelated answer stays
    assert cache.invalidate_documents([str(doc)]) == 0


def test_clear_per_level_and_all(cache: Cache) -> None:
    cache.store(q("How do I renew my passport?"), "At the office.")
    assert cache.clear("semantic") == {"semantic": 1}
    assert not cache.lookup(q("How can I renew my passport?")).hit  # no vector left
    assert cache.lookup(q("How do I renew my passport?")).hit  # the exact level still answers
    assert cache.clear()["exact"] == 1
    assert not cache.lookup(q("How do I renew my passport?")).hit


def test_stats_count_hits_misses_and_savings(cache: Cache) -> None:
    cache.store(q("How do I renew my passport?"), "At the office.", usage=(40, 5), generation_ms=2500)
    cache.lookup(q("How do I renew my passport?"))
    cache.lookup(q("How can I renew my passport?"))
    cache.lookup(q("What is the capital of France?"))
    cache.lookup(q("What is the capital of France?"))
    s = cache.stats()
    assert s["exact"]["hits"] == 1 and s["exact"]["misses"] == 3
    assert s["semantic"]["hits"] == 1 and s["semantic"]["misses"] == 2
    assert s["exact"]["tokens_saved"] == 45 and s["semantic"]["seconds_saved"] == 2.5
    assert s["context"]["hits"] == 1  # the repeated question's vector came from the memo, not MiniLM


@pytest.mark.slow  # an evaluation of a shipped model on a held-out set: it changes when the model does
def test_shipped_threshold_keeps_near_miss_false_hits_under_one_percent(rt: Any, cache: Cache) -> None:
    rows = [json.loads(line) for line in NEAR_MISSES.read_text(encoding="utf-8").splitlines()]
    assert cache.threshold == verifier_floor()  # the runtime's cache: the verifier on, its calibrated floor
    cache._memo().embed_batch([r[k] for r in rows for k in ("q1", "q2")])  # one batch; lookups reuse the vectors
    false_hits = paraphrase_hits = 0
    for i, r in enumerate(rows):
        model = f"m/echo@{i}"  # one partition per pair: each lookup sees only its own stored question
        cache.store(q(r["q1"], model=model), "answer")
        found = cache.lookup(q(r["q2"], model=model))
        if r["duplicate"]:
            paraphrase_hits += found.hit
        else:
            false_hits += found.hit
    negatives = sum(1 for r in rows if not r["duplicate"])
    assert false_hits / negatives <= 0.01
    assert paraphrase_hits >= 1  # the cache still does its job on plain rewordings
