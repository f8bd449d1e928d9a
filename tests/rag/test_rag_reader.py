"""The extractive reader's span rule (SQuAD 2.0's null score) and its ONNX runtime on padded batches."""

from __future__ import annotations

from pathlib import Path

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


def tiny_reader(folder: Path, threshold: float = 0.0) -> reader.Reader:
    """A reader graph in the shipped one's shape (ids, types, mask -> start and end logits) whose logits are a
    lookup per word piece: "189" is an answer's start and end, [CLS] holds a small no-answer score."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer

    from edgeprompt.embed import shipped_dir

    tok = Tokenizer.from_file(str(shipped_dir() / "tokenizer.json"))
    start, end = np.zeros(tok.get_vocab_size(), np.float32), np.zeros(tok.get_vocab_size(), np.float32)
    start[tok.token_to_id("[CLS]")] = end[tok.token_to_id("[CLS]")] = 1.0
    start[tok.token_to_id("189")] = end[tok.token_to_id("189")] = 5.0
    ins = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["b", "t"])
        for n in ("input_ids", "token_type_ids", "attention_mask")
    ]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["b", "t"]) for n in ("start_logits", "end_logits")]
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["start_table", "input_ids"], ["start_logits"]),
            helper.make_node("Gather", ["end_table", "input_ids"], ["end_logits"]),
        ],
        "tiny_reader",
        ins,
        outs,
        [numpy_helper.from_array(start, "start_table"), numpy_helper.from_array(end, "end_table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "reader.onnx"
    onnx.save(model, str(path))
    return reader.Reader(path, threshold)


def test_a_reader_places_the_span_and_reads_each_pair_alike_alone_or_padded(tmp_path: Path) -> None:
    r = tiny_reader(tmp_path)
    q = "What did the replacement battery cost?"
    long = "The replacement battery cost $189 and was fitted on 2025-01-09 at the garage on Harbor Lane."
    alone = r.read(q, [long])[0]
    batch = r.read(q, ["It rained.", long])
    assert alone.span == "189" and alone.score == pytest.approx(5.0 + 5.0 - 2.0)
    assert batch[1] == alone  # padding the batch to a longer sentence changes nothing
    assert batch[0].score < 0  # no span beats "no answer here" in a sentence without the value


def test_the_judge_answers_with_the_readers_span_and_abstains_below_its_threshold(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.backends.base import Document
    from edgeprompt.rag import answerable
    from edgeprompt.rag.extract import Scored

    q = "What did the replacement battery cost?"
    sentences = [Scored(1, "It rained all week at the garage.", 0.9), Scored(2, "The battery cost $189 in March.", 0.5)]
    docs = [Document(1, sentences[0].text, "notes.md"), Document(2, sentences[1].text, "receipts.md")]
    monkeypatch.setattr(reader, "shipped", lambda: tiny_reader(tmp_path))
    verdict = answerable.judge(q, sentences, docs)
    assert verdict.answerable and verdict.best is not None
    assert verdict.best.sentence.n == 2 and verdict.best.span == "189"  # the reader's pick, not the closer cosine
    strict = tiny_reader(tmp_path, threshold=20.0)  # a threshold above any span's score: "not in your documents"
    monkeypatch.setattr(reader, "shipped", lambda: strict)
    assert not answerable.judge(q, sentences, docs).answerable
