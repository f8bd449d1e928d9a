"""The sentence reader: does this sentence state the answer to this question, or only talk about its subject?

Cosine similarity ranks a sentence about the Osaka hotel's name as close to "the check-out time at the
Osaka hotel" as the one that gives the time. The reader is a small MLP trained on public extractive QA
(question, the sentence holding the answer) against (question, sibling sentences of the same article that
share its words but not the answer): the near misses the judge must refuse. It reads the MiniLM vectors
sentence evidence has already computed (their product, difference, the question's own vector for its
type, the cosine and the word overlap), so a judgement costs one tiny int8 matrix product, no model run.
Its probability joins the answerability judge as a feature (edgeprompt.rag.answerable). Trained and
exported by `scripts/train_answerer` (edgeprompt/shipped/answer/DATA.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.rag.extract import terms

if TYPE_CHECKING:
    import numpy as np

LAYOUT = "minilm-qa-sentence/1"  # bump when `features` changes: a model built for another layout is refused
DIM = 384


def features(q: np.ndarray, s: np.ndarray, question: str, sentence: str) -> np.ndarray:
    """One row of model input: `q`, `s` are the L2-normalised MiniLM vectors of the question and of the
    sentence (as sentence evidence embeds it, with its heading path)."""
    import numpy as np

    q_terms = terms(question)
    overlap = len(q_terms & terms(sentence)) / len(q_terms) if q_terms else 0.0
    extra = [float(q @ s), overlap, min(len(sentence), 400) / 400]
    return np.concatenate([q * s, np.abs(q - s), q, extra]).astype(np.float32)


def width(dim: int = DIM) -> int:
    return 3 * dim + 3


@dataclass(frozen=True)
class Reader:
    session: Any  # onnxruntime.InferenceSession
    meta: dict[str, Any]

    @classmethod
    def load(cls, folder: Path | Any) -> Reader:
        """`folder`: a Path or an importlib Traversable holding reader.onnx and reader.json."""
        import onnxruntime as ort

        meta = json.loads(folder.joinpath("reader.json").read_text(encoding="utf-8"))
        if meta.get("layout") != LAYOUT:
            raise ValueError(f"reader built for features {meta.get('layout')!r}, this code makes {LAYOUT!r}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a few rows: threads would cost more than they save
        opts.log_severity_level = 3
        model = folder.joinpath("reader.onnx").read_bytes()
        return cls(ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]), meta)

    def probabilities(self, rows: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        import numpy as np

        x = np.asarray(rows, dtype=np.float32).reshape(-1, width())
        if not len(x):
            return np.zeros(0, dtype=np.float32)
        return self.session.run(None, {"features": x})[0].reshape(-1)


@cache
def shipped() -> Reader | None:
    """The trained reader (edgeprompt/shipped/answer/reader.onnx), or None where it is missing or cannot load (the
    judge then leaves the reader's feature at its neutral value)."""
    try:
        return Reader.load(resources.files("edgeprompt.shipped").joinpath("answer"))
    except (FileNotFoundError, ModuleNotFoundError, OSError, ValueError, ImportError):
        return None


__all__ = ["LAYOUT", "Reader", "features", "shipped", "width"]
