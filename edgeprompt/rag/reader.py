"""The extractive reader: which words of a sentence answer the question, and whether any do.

A MiniLM encoder with a span head (edgeprompt/shipped/answer/reader.onnx, trained by
`scripts/train_reader` on SQuAD 2.0's training split) reads the question and one sentence together and
scores every token of the sentence as the answer's start and end; [CLS] stands for "no answer here". A
sentence's score is its best span's start + end score minus [CLS]'s (SQuAD 2.0's null-score rule), so
it is above 0 when the model prefers an answer to none. reader.json holds the threshold, set on
held-out training articles, never on a benchmark. The answerability judge (edgeprompt.rag.answerable)
uses it when the file is there and falls back to its logistic features when it is not.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

READER_FORMAT = "edgeprompt-reader/1"
MAX_TOKENS = 96  # question + sentence word pieces; a longer sentence is cut at its end
MAX_ANSWER_TOKENS = 16  # longer spans are not answers: a value, a name, a date, a short phrase


@dataclass(frozen=True)
class Read:
    score: float  # best span minus no answer: > 0 when the reader prefers an answer
    span: str  # the answer's text in the sentence ("" when none could be placed)


def best_span(start: np.ndarray, end: np.ndarray, allowed: np.ndarray) -> tuple[float, int, int]:
    """The best (start <= end < start + MAX_ANSWER_TOKENS) span over the allowed tokens, as its score
    minus the null score (start[0] + end[0]) and its first and last token."""
    idx = np.flatnonzero(allowed)
    null = float(start[0] + end[0])
    if not len(idx):
        return -1e9, 0, 0
    s, e = start[idx], end[idx]
    grid = s[:, None] + e[None, :]
    gap = idx[None, :] - idx[:, None]
    grid = np.where((gap >= 0) & (gap < MAX_ANSWER_TOKENS), grid, -np.inf)
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return float(grid[i, j]) - null, int(idx[i]), int(idx[j])


class Reader:
    """One ONNX session over the reader; thread-safe for the server's concurrent requests."""

    def __init__(self, model: Path, threshold: float, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from edgeprompt.embed import shipped_dir

        tok = Tokenizer.from_file(str(shipped_dir() / "tokenizer.json"))  # the embedder's own word pieces
        tok.no_padding()
        tok.enable_truncation(MAX_TOKENS, strategy="only_second")
        self.tokenizer = tok
        self.threshold = threshold
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.log_severity_level = 3
        # short calls between other work: idle threads must not spin (as the embedder's query session)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()

    def read_pairs(self, questions: Sequence[str], sentences: Sequence[str]) -> list[Read]:
        """The reader's score and answer span for each (question, sentence) pair, in one batch."""
        if not sentences:
            return []
        encs = self.tokenizer.encode_batch(list(zip(questions, sentences, strict=True)))
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), np.int64)
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for r, e in enumerate(encs):
            ids[r, : len(e.ids)], types[r, : len(e.ids)], mask[r, : len(e.ids)] = e.ids, e.type_ids, e.attention_mask
        with self._lock:
            start, end = self._session.run(None, {"input_ids": ids, "token_type_ids": types, "attention_mask": mask})
        out = []
        for r, e in enumerate(encs):
            allowed = np.array([sid == 1 for sid in e.sequence_ids] + [False] * (width - len(e.ids)))
            score, a, b = best_span(start[r], end[r], allowed)
            text = sentences[r][e.offsets[a][0] : e.offsets[b][1]] if allowed[a] else ""
            out.append(Read(score, text.strip()))
        return out

    def read(self, question: str, sentences: Sequence[str]) -> list[Read]:
        return self.read_pairs([question] * len(sentences), sentences)


def shipped_path() -> Path:
    return Path(__file__).resolve().parents[1] / "shipped" / "answer" / "reader.onnx"


@cache
def shipped() -> Reader | None:
    """The shipped reader, or None when this install has none (the judge then uses its features alone)."""
    path = shipped_path()
    meta_path = path.with_name("reader.json")
    if not path.exists() or not meta_path.exists():
        return None
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != READER_FORMAT:
            return None
        return Reader(path, float(meta["threshold"]))
    except (OSError, ValueError, KeyError, ImportError):
        return None


__all__ = ["MAX_ANSWER_TOKENS", "MAX_TOKENS", "READER_FORMAT", "Read", "Reader", "best_span", "shipped"]
