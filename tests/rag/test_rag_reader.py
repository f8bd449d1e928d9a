"""The extractive reader's span rule (SQuAD 2.0's null score) and its ONNX runtime on padded batches."""

from __future__ import annotations

import numpy as np
import pytest

from edgeprompt.rag import reader
from edgeprompt.rag.reader import MAX_ANSWER_TOKENS, best_span


def test_the_best_span_is_scored_against_no_answer() -> None:
    start = np.array([1.0, 0.0, 3.0, 0.5, 0.0])
    end = np.array([1.0, 0.0, 0.2, 0.1, 2.5])
    allowed = np.array([False, True, True, True, True])
    score, a, b = best_span(start, end, allowed)
    assert (a, b) == (2, 4) and score == pytest.approx(3.0 + 2.5 - 2.0)
    # [CLS] stronger than any span: a negative score, and the question tokens are never the answer
    score, _, _ = best_span(start * 0 + np.array([9.0, 0, 0, 0, 0]), end, allowed)
    assert score < 0
    assert best_span(start, end, np.zeros(5, bool))[0] < -1e8


def test_a_span_never_runs_backwards_or_past_the_longest_answer() -> None:
    n = MAX_ANSWER_TOKENS + 5
    start, end = np.full(n, -10.0), np.full(n, -10.0)
    start[2] = 5.0
    end[1] = end[2 + MAX_ANSWER_TOKENS] = 5.0  # before the best start, and one token too far after it
    score, a, b = best_span(start, end, np.arange(n) > 0)
    # neither pairing of the two peaks (5 + 5) is a span: the best left pairs a peak with a -10
    assert score == pytest.approx(-5.0 - (-20.0)) and a <= b < a + MAX_ANSWER_TOKENS


@pytest.mark.skipif(reader.shipped() is None, reason="this install has no reader.onnx")
def test_the_shipped_reader_reads_each_pair_alike_alone_or_padded_in_a_batch() -> None:
    r = reader.shipped()
    assert r is not None
    q = "When was the replacement battery fitted?"
    long = "The replacement battery cost $189 and was fitted on 2025-01-09 at the garage on Harbor Lane."
    alone = r.read(q, [long])[0]
    batch = r.read(q, ["It rained.", long])
    assert batch[1].score == pytest.approx(alone.score, abs=1e-3) and batch[1].span == alone.span
    assert alone.span and alone.span in long
