"""Prefix reuse on the onnx backend: live generators rewound to the shared token prefix, on the session's
tiny Llama (a real architecture built by onnxruntime-genai's builder), against cold prefill."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edgeprompt.backends.base import GenerationParams, GenerationStats, Message, Request, common_prefix
from edgeprompt.backends.onnx_prefix import GeneratorPool

DOC = " ".join(f"Line {i}: the river town keeps {i % 7} boats and a lighthouse painted blue." for i in range(12))
SYSTEM = Message("system", "Answer from the document.\n\n" + DOC)
QUESTIONS = ("Where is the lighthouse?", "How many boats are there?", "What colour is it painted?")


@pytest.fixture(scope="module")
def pair(tiny_model: Any) -> Iterator[tuple[Any, Any]]:
    """The same model twice: one backend prefilling every prompt cold, one reusing live generators."""
    from edgeprompt.backends.onnx import OnnxBackend

    cold = OnnxBackend.load(tiny_model.card, threads=1, logprobs=True)
    warm = OnnxBackend.load(tiny_model.card, threads=1, logprobs=True)
    warm.reuse_prefixes(64 << 20)
    yield cold, warm
    cold.close()
    warm.close()


SHORT = GenerationParams(max_tokens=12)


def answer(
    backend: Any,
    messages: tuple[Message, ...],
    params: GenerationParams = SHORT,
) -> tuple[str, list[int], list[float], GenerationStats]:
    chunks = list(backend.stream(Request(messages, params)))
    stats = chunks[-1].stats
    assert stats is not None
    return (
        "".join(c.text for c in chunks),
        [c.token_id for c in chunks if c.token_id is not None],
        [c.logprob for c in chunks if c.logprob is not None],
        stats,
    )


def test_a_chat_reuses_each_turns_prefix_with_the_same_greedy_output(pair: tuple[Any, Any]) -> None:
    cold, warm = pair
    warm.generators.clear()
    history: tuple[Message, ...] = (SYSTEM,)
    previous: list[int] = []  # the last turn's generator sequence: its prompt, then its answer
    for turn, question in enumerate(QUESTIONS):
        history += (Message("user", question),)
        text_c, ids_c, lp_c, stats_c = answer(cold, history)
        text_w, ids_w, lp_w, stats_w = answer(warm, history)
        assert (text_w, ids_w) == (text_c, ids_c)
        np.testing.assert_allclose(lp_w, lp_c, atol=1e-4)  # the same distributions, not only the same argmax
        prompt = warm.prompt_ids(history)
        assert stats_c.reused_tokens == 0 and stats_c.prefix_note == "prefix reuse is off"
        assert stats_w.prompt_tokens == len(prompt)
        if turn == 0:
            assert stats_w.reused_tokens == 0 and "no live generator" in stats_w.prefix_note
        else:  # everything up to the previous prompt's end (history re-rendered the same) came from the KV
            assert stats_w.reused_tokens >= len(previous) - len(ids_w) > 100
            # all but the sequence's last token, whose KV is computed only when the next step runs
            assert stats_w.reused_tokens == common_prefix(prompt[:-1], previous[:-1])
            assert stats_w.prefix_note == ""
        previous = prompt + ids_w
        history += (Message("assistant", text_w),)
    assert len(warm.generators) == 1  # one chat, one live generator, rewound each turn


def test_a_changed_system_prompt_shares_only_its_head(pair: tuple[Any, Any]) -> None:
    cold, warm = pair
    warm.generators.clear()
    answer(warm, (SYSTEM, Message("user", QUESTIONS[0])))
    changed = (Message("system", "Answer in French.\n\n" + DOC), Message("user", QUESTIONS[0]))
    text_w, ids_w, _, stats = answer(warm, changed)
    assert (text_w, ids_w) == answer(cold, changed)[:2]
    head = common_prefix(warm.prompt_ids(changed), warm.prompt_ids((SYSTEM,)))
    assert stats.reused_tokens <= head < 16  # the shared head is too short to reuse: a new generator
    assert len(warm.generators) == 2


def test_requests_that_a_rewound_generator_would_change_run_cold(pair: tuple[Any, Any]) -> None:
    cold, warm = pair
    messages = (SYSTEM, Message("user", QUESTIONS[1]))
    answer(warm, messages)
    fixed = GenerationParams(max_tokens=6, min_tokens=6)
    w, c = answer(warm, messages, fixed), answer(cold, messages, fixed)
    assert w[:2] == c[:2] and w[3].reused_tokens == 0 and "min_tokens" in w[3].prefix_note
    seeded = GenerationParams(max_tokens=6, temperature=0.8, seed=3)
    w, c = answer(warm, messages, seeded), answer(cold, messages, seeded)
    assert w[:2] == c[:2] and w[3].reused_tokens == 0 and "seeded sampling" in w[3].prefix_note


def test_the_pool_keeps_within_its_count_and_kv_budget(tiny_model: Any, pair: tuple[Any, Any]) -> None:
    _, warm = pair
    ids = warm.prompt_ids((SYSTEM, Message("user", QUESTIONS[0])))
    per_position = warm.bytes_per_position
    assert per_position == 2 * 2 * 2 * 16 * 4  # layers x (K, V) x KV heads x head size x fp32
    pool = GeneratorPool(warm.model, 2048, per_position, budget_bytes=10**9, size=2)
    for k in range(3):  # three prompts that share only their first token: three generators
        pool.give_back(pool.take([ids[0], 3 + k, *ids[2:]], 4, {"do_sample": False})[0])
    assert len(pool) == 2
    assert pool.take([ids[0], 3, *ids[2:]], 4, {"do_sample": False})[1].reused == 0  # the oldest was dropped
    live, _ = pool.take(ids, 4, {"do_sample": False})
    tight = GeneratorPool(warm.model, 2048, per_position, budget_bytes=live.capacity * per_position - 1)
    tight.give_back(live)  # its reserved KV alone is over the budget: not kept
    assert len(tight) == 0 and tight.reserved_bytes == 0


def test_a_turn_that_outgrows_the_live_generator_starts_cold(pair: tuple[Any, Any]) -> None:
    from edgeprompt.backends.onnx_prefix import GROWTH

    _, warm = pair
    ids = warm.prompt_ids((SYSTEM, Message("user", QUESTIONS[0])))
    pool = GeneratorPool(warm.model, 2048, warm.bytes_per_position, 10**9)
    live, _ = pool.take(ids, 4, {"do_sample": False})
    assert live.capacity == len(ids) + 4 + GROWTH  # room for the next turns, within the context
    pool.give_back(live)
    longer = ids * 3  # shares all of the first prompt, but with its answer needs more than that room
    assert len(ids) + 4 + GROWTH < len(longer) + 100 <= 2048
    _, reuse = pool.take(longer, 100, {"do_sample": False})
    assert reuse.reused == 0 and f"holds {live.capacity} positions" in reuse.note


class NoRewind:
    """A generator whose KV cache cannot rewind (as ORT answers for such configs); the rest is the real one."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def rewind_to(self, n: int) -> None:
        raise RuntimeError("Rewind is not supported for this model\nstack trace")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.generator, name)


def test_where_rewind_fails_every_turn_is_cold_with_the_reason(pair: tuple[Any, Any]) -> None:
    _, warm = pair
    ids = warm.prompt_ids((SYSTEM, Message("user", QUESTIONS[0])))
    pool = GeneratorPool(warm.model, 2048, warm.bytes_per_position, 10**9)
    live, _ = pool.take(ids, 4, {"do_sample": False})
    live.generator = NoRewind(live.generator)
    pool.give_back(live)
    gen, reuse = pool.take(ids, 4, {"do_sample": False})
    assert reuse.reused == 0
    assert reuse.note == "rewind unsupported for this model: Rewind is not supported for this model"
    gen.generator.generate_next_token()  # the cold generator works
    assert pool.take(ids, 4, {"do_sample": False})[1].note == reuse.note  # known now: no second try


def test_the_runtime_turns_reuse_on_with_the_prefix_setting(tiny_home: Any) -> None:
    backend = tiny_home.backend("tiny", "onnx")
    assert backend.generators is not None
    assert backend.generators.budget_bytes == int(tiny_home.settings.get("cache.prefix_budget_mb")) << 20


def test_chat_bench_times_each_turn_cold_and_warm(pair: tuple[Any, Any]) -> None:
    from edgeprompt.cache.chat_bench import chat_bench

    _, warm = pair
    warm.generators.clear()  # earlier tests left generators holding SYSTEM live
    result = chat_bench(warm, SYSTEM, turns=3, max_tokens=6)
    assert [t.n for t in result.turns] == [1, 2, 3] and all(t.same_output for t in result.turns)
    assert result.turns[0].reused_tokens == 0  # the warm-up had another system prompt: the documents are new
    assert all(t.reused_tokens > result.turns[0].prompt_tokens for t in result.turns[1:])
    assert all(t.ttft_cold_ms > 0 and t.ttft_warm_ms > 0 for t in result.turns)
    summary = result.summary()
    assert summary["turns"] == 3 and summary["same_output"] is True and len(summary["ttft_warm_ms"]) == 3


def test_bench_prefix_cache_and_chat_on_onnx(cli: Any, tiny_home: Any) -> None:
    import json

    code, out, err = cli("bench", "-m", "tiny", "--backend", "onnx", "--prefix-cache", "--runs", "1", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["backend"] == "onnx" and report["same_output"] is True
    assert report["prompt_tokens"] - report["reused_tokens"] < 40 < report["reused_tokens"]
    code, out, err = cli("bench", "-m", "tiny", "--backend", "onnx", "--chat", "2", "--max-tokens", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["turns"] == 2
    code, _, err = cli("bench", "-m", "tiny", "--backend", "onnx", "--chat", "99")
    assert code == 2 and "--turns" in err
