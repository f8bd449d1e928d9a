"""The mlx and onnx backends on a real (tiny) model: streaming, limits, stops, cancel, seeds, counts."""

from __future__ import annotations

import math
import threading
from typing import Any

from edgeprompt.backends.base import Backend, Chunk, GenerationParams, Message, Request

MESSAGES = (Message("system", "You are a helpful assistant."), Message("user", "Tell me a story."))


def generate(
    backend: Any,
    params: GenerationParams,
    cancel: threading.Event | None = None,
    messages: tuple[Message, ...] = MESSAGES,
) -> tuple[str, list[Chunk]]:
    chunks = list(backend.stream(Request(messages, params, cancel)))
    return "".join(c.text for c in chunks), chunks


def test_satisfies_the_backend_protocol(backend: Any) -> None:
    assert isinstance(backend, Backend)
    assert backend.model_id == "tiny"
    assert backend.context_length == 2048


def test_streams_text_and_ends_with_stats(backend: Any) -> None:
    text, chunks = generate(backend, GenerationParams(max_tokens=24))
    last = chunks[-1]
    assert last.finish_reason in ("stop", "length") and last.stats is not None
    assert text.strip(), "the model wrote nothing"
    assert last.stats.completion_tokens == sum(1 for c in chunks if c.token_id is not None)
    assert 1 <= last.stats.completion_tokens <= 24
    assert last.stats.ttft_ms > 0 and last.stats.total_ms >= last.stats.ttft_ms
    assert all(c.finish_reason is None for c in chunks[:-1])


def test_max_tokens_is_respected(backend: Any) -> None:
    _, chunks = generate(backend, GenerationParams(max_tokens=3))
    stats = chunks[-1].stats
    assert stats is not None and stats.completion_tokens <= 3
    if stats.completion_tokens == 3:
        assert chunks[-1].finish_reason == "length"


def test_prompt_tokens_match_count_tokens_and_the_template(backend: Any) -> None:
    _, chunks = generate(backend, GenerationParams(max_tokens=2))
    assert chunks[-1].stats.prompt_tokens == backend.count_tokens(MESSAGES)
    rendered = backend.chat.render(MESSAGES)
    assert rendered == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nTell me a story.<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = backend.prompt_ids(MESSAGES)
    special = {backend.chat.tokenizer.token_to_id(t) for t in ("<|im_start|>", "<|im_end|>")}
    assert ids.count(backend.chat.tokenizer.token_to_id("<|im_start|>")) == 3
    assert special <= set(ids)
    assert backend.count_tokens(MESSAGES[1:]) < backend.count_tokens(MESSAGES)


def test_stop_string_cuts_the_answer(backend: Any) -> None:
    full, _ = generate(backend, GenerationParams(max_tokens=24))
    assert len(full) >= 4, f"need some text to pick a stop string from: {full!r}"
    stop = full[len(full) // 2 :][:3]
    cut, chunks = generate(backend, GenerationParams(max_tokens=24, stop=(stop,)))
    assert stop not in cut
    assert cut == full[: full.index(stop)]
    assert chunks[-1].finish_reason == "stop"


def test_same_seed_same_sample_and_greedy_is_deterministic(backend: Any) -> None:
    sampled = GenerationParams(max_tokens=16, temperature=1.0, top_p=0.95, seed=7)
    a, _ = generate(backend, sampled)
    b, _ = generate(backend, sampled)
    assert a == b
    others = {generate(backend, GenerationParams(max_tokens=16, temperature=1.5, seed=s))[0] for s in range(4)}
    assert len(others) > 1, "different seeds should not all give the same sample"
    g1, _ = generate(backend, GenerationParams(max_tokens=16))
    g2, _ = generate(backend, GenerationParams(max_tokens=16))
    assert g1 == g2


def test_cancel_mid_stream(backend: Any) -> None:
    cancel = threading.Event()
    seen = 0
    finish = None
    for chunk in backend.stream(Request(MESSAGES, GenerationParams(max_tokens=40, temperature=1.0, seed=1), cancel)):
        if chunk.token_id is not None:
            seen += 1
            if seen == 2:
                cancel.set()
        if chunk.finish_reason:
            finish = chunk.finish_reason
            stats = chunk.stats
    assert seen == 2, "the stream went on after the cancel (or ended before it)"
    assert finish == "cancelled"
    assert stats is not None and stats.completion_tokens == 2


def test_cancel_before_start_yields_no_tokens(backend: Any) -> None:
    cancel = threading.Event()
    cancel.set()
    text, chunks = generate(backend, GenerationParams(max_tokens=10), cancel)
    assert text == "" and chunks[-1].finish_reason == "cancelled"
    assert chunks[-1].stats.completion_tokens == 0


def test_mlx_reports_logprobs(mlx_backend: Any) -> None:
    from edgeprompt.backends.mlx import ENTROPY_EVERY

    _, chunks = generate(mlx_backend, GenerationParams(max_tokens=8))
    tokens = [c for c in chunks if c.token_id is not None]
    assert tokens and all(c.logprob is not None and c.logprob <= 0 for c in tokens)
    # the entropy is measured on every ENTROPY_EVERY-th token (the answer's mean is an estimate)
    assert all(c.entropy is not None and c.entropy >= 0 for c in tokens[::ENTROPY_EVERY])


def test_onnx_logprobs_when_enabled_match_greedy_choice(tiny_model: Any, onnx_backend: Any) -> None:
    from edgeprompt.backends.onnx import OnnxBackend

    assert onnx_backend.logprobs is False  # a model this small: the log-softmax would cost more than 2%
    with_lp = OnnxBackend.load(tiny_model.card, threads=1, logprobs=True)
    try:
        text, chunks = generate(with_lp, GenerationParams(max_tokens=8))
        plain, _ = generate(onnx_backend, GenerationParams(max_tokens=8))
        assert text == plain
        tokens = [c for c in chunks if c.token_id is not None]
        # greedy picks the most likely token, so its probability is at least 1/vocab and at most 1
        assert all(c.logprob is not None and -math.log(with_lp.vocab_size) <= c.logprob <= 0 for c in tokens)
        assert all(c.entropy is not None and 0 <= c.entropy <= math.log(with_lp.vocab_size) + 1e-4 for c in tokens)
    finally:
        with_lp.close()


def test_backends_share_tokenizer_and_template(onnx_backend: Any, mlx_backend: Any) -> None:
    assert onnx_backend.prompt_ids(MESSAGES) == mlx_backend.prompt_ids(MESSAGES)


def test_min_tokens_holds_off_the_end_of_turn(backend: Any) -> None:
    _, chunks = generate(backend, GenerationParams(max_tokens=20, min_tokens=20))
    assert chunks[-1].stats.completion_tokens == 20 and chunks[-1].finish_reason == "length"
