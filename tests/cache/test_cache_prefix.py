"""The prefix (KV) level on the session's tiny MLX model: reuse across turns and sessions, same output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edgeprompt.backends.base import GenerationParams, Message, Request

pytest.importorskip("mlx_lm")

SYSTEM = Message("system", "You are a careful assistant. Answer from the notes below.\n" + "notes " * 120)


@pytest.fixture
def tiny(rt: Any, tiny_model: Any) -> Any:
    rt.catalog.add(tiny_model.card)
    return rt


def generate(backend: Any, messages: list[Message]) -> tuple[str, Any]:
    text, stats = [], None
    for chunk in backend.stream(Request(tuple(messages), GenerationParams(max_tokens=10))):
        text.append(chunk.text)
        stats = chunk.stats or stats
    return "".join(text), stats


def test_second_turn_reuses_the_prefix_and_is_traced(tiny: Any, ask: Any) -> None:
    first, _ = ask("Tell me about the notes.", model="tiny", backend="mlx")
    second, _ = ask("And what else?", model="tiny", backend="mlx", session_id=first.session_id)
    gen = next(s for s in tiny.traces.get(second.trace_id)["spans"] if s["name"] == "generate")
    assert gen["attributes"]["edgeprompt.prefix.reused_tokens"] > 0
    stats = tiny.cache().stats()["prefix"]
    assert stats["hits"] >= 1 and stats["tokens_saved"] > 0 and stats["memory_bytes"] > 0


def test_output_is_identical_with_and_without_reuse(tiny: Any) -> None:
    backend = tiny.backend("tiny", "mlx")
    turn1 = [SYSTEM, Message("user", "What do the notes say?")]
    answer1, _ = generate(backend, turn1)
    turn2 = [*turn1, Message("assistant", answer1), Message("user", "Say it again.")]
    other = [SYSTEM, Message("user", "Another question entirely.")]
    with_reuse = [generate(backend, m) for m in (turn2, other)]
    assert all(s.reused_tokens > 0 for _, s in with_reuse)
    cache, backend.prefix_cache = backend.prefix_cache, None
    without = [generate(backend, m) for m in (turn2, other)]
    backend.prefix_cache = cache
    assert [t for t, _ in with_reuse] == [t for t, _ in without]
    assert all(s.reused_tokens == 0 for _, s in without)


def test_hot_system_prompt_is_saved_and_loaded_by_a_fresh_process(tiny: Any, tmp_path: Path) -> None:
    from edgeprompt.cache.prefix import PrefixCache

    backend = tiny.backend("tiny", "mlx")
    disk = tmp_path / "prefix"
    backend.prefix_cache = PrefixCache(backend.model, "k", 1 << 30, disk, 1 << 30)
    generate(backend, [SYSTEM, Message("user", "first question")])
    generate(backend, [SYSTEM, Message("user", "second question")])  # shares the system prompt: it is hot
    assert list(disk.rglob("*.safetensors"))
    backend.prefix_cache = PrefixCache(backend.model, "k", 1 << 30, disk, 1 << 30)  # empty memory
    _, stats = generate(backend, [SYSTEM, Message("user", "third question")])
    assert stats.reused_tokens >= backend.count_tokens([SYSTEM]) - 2
    backend.prefix_cache = PrefixCache(backend.model, "other-weights", 1 << 30, disk, 1 << 30)
    assert generate(backend, [SYSTEM, Message("user", "third question")])[1].reused_tokens == 0


def test_byte_budget_bounds_memory(tiny: Any) -> None:
    from edgeprompt.cache.prefix import PrefixCache

    backend = tiny.backend("tiny", "mlx")
    backend.prefix_cache = PrefixCache(backend.model, "k", 1, None, 0)  # smaller than any KV state
    generate(backend, [SYSTEM, Message("user", "first question")])
    _, stats = generate(backend, [SYSTEM, Message("user", "second question")])
    assert stats.reused_tokens == 0 and backend.prefix_cache.memory.nbytes <= 1


def test_clear_prefix_level_drops_memory_and_files(tiny: Any, cli: Any) -> None:
    backend = tiny.backend("tiny", "mlx")
    generate(backend, [SYSTEM, Message("user", "first question")])
    generate(backend, [SYSTEM, Message("user", "second question")])
    cache = tiny.cache()
    assert cache.stats()["prefix"]["disk_bytes"] > 0
    assert cache.clear("prefix")["prefix"] >= 1
    assert cache.stats()["prefix"]["bytes"] == 0
