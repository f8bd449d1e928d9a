"""The pair verifier: after the vector search, a small model decides whether two questions ask the same thing.

A cosine threshold cannot tell "5 km to miles" from "5 miles to km" (cosine 0.99), so a candidate that
passes the guards is served only when `Verifier.probability(...)` reaches the calibrated minimum. The
model is an int8 ONNX MLP over features of the pair: the two MiniLM vectors' element-wise product and
absolute difference, their cosine, which content-gate checks failed, and how many content words each
question has that the other lacks. It reuses vectors the cache already has (the query's and the stored
entry's), so a verification costs a feature build and one tiny matrix product (well under a millisecond).
Trained and exported by `scripts/train_cache_verifier` (see edgeprompt/shipped/cache/verifier/DATA.md).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.cache import gate

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import numpy as np

FEATURES = "minilm-pair-gate/2"  # bump when `features` changes: a model built for another layout is refused
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _content_sequence(text: str) -> list[str]:
    return [w.removesuffix("s") for w in _WORD.findall(text.lower()) if w not in gate.COMMON]


def _content_words(text: str) -> set[str]:
    return set(_content_sequence(text))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def order_features(text_a: str, text_b: str) -> list[float]:
    """What mean pooling cannot see: the shared content words' order. The share of shared word pairs whose
    order is inverted ("km to miles" / "miles to km", "Alice paid Bob" / "Bob paid Alice"), whether that
    happens with the same words on both sides (a rewording rarely keeps every word and only moves them),
    the ordered content-bigram overlap, and the character-trigram overlap of the whole questions."""
    sa, sb = _content_sequence(text_a), _content_sequence(text_b)
    pa = {w: i for i, w in reversed(list(enumerate(sa)))}
    pb = {w: i for i, w in reversed(list(enumerate(sb)))}
    shared = [w for w in pa if w in pb]
    pairs = [(x, y) for i, x in enumerate(shared) for y in shared[i + 1 :]]
    inverted = sum((pa[x] < pa[y]) != (pb[x] < pb[y]) for x, y in pairs) / len(pairs) if pairs else 0.0
    same_words = float(set(sa) == set(sb))
    bigrams = _jaccard({f"{x} {y}" for x, y in pairwise(sa)}, {f"{x} {y}" for x, y in pairwise(sb)})
    la, lb = f" {text_a.lower()} ", f" {text_b.lower()} "
    trigrams = _jaccard({la[i : i + 3] for i in range(len(la) - 2)}, {lb[i : i + 3] for i in range(len(lb) - 2)})
    return [inverted, same_words * inverted, bigrams, trigrams]


def lexical(text_a: str, text_b: str, checks: dict[str, gate.Check] | None = None) -> list[float]:
    """Gate failures (one flag per check) and content-word overlap: what embeddings blur. `checks`: the
    gate's verdict when the caller has it already (the cache does)."""
    checks = checks or gate.compare(text_a, text_b)
    a, b = _content_words(text_a), _content_words(text_b)
    union = a | b
    return [float(not checks[g].passed) for g in gate.GATES] + [
        len(a & b) / len(union) if union else 1.0,
        min(len(a - b), 5) / 5,
        min(len(b - a), 5) / 5,
        abs(len(text_a) - len(text_b)) / max(len(text_a), len(text_b), 1),
        *order_features(text_a, text_b),
    ]


def features(
    u: np.ndarray, v: np.ndarray, text_a: str, text_b: str, checks: dict[str, gate.Check] | None = None
) -> np.ndarray:
    """One row of model input for the pair (u, v are L2-normalised MiniLM vectors); symmetric in a, b."""
    import numpy as np

    cos = float(np.dot(u, v))
    return np.concatenate([u * v, np.abs(u - v), [cos], lexical(text_a, text_b, checks)]).astype(np.float32)


def width(dim: int = 384) -> int:
    return 2 * dim + 1 + len(gate.GATES) + 8


class Verifier:
    def __init__(self, session: Any, meta: dict[str, Any], min_probability: float = 0.5) -> None:
        self.session = session
        self.meta = meta
        self.min_probability = min_probability

    @classmethod
    def load(cls, folder: Path | Traversable, min_probability: float = 0.5) -> Verifier:
        import onnxruntime as ort

        meta = json.loads((folder / "verifier.json").read_text(encoding="utf-8"))
        if meta.get("features") != FEATURES:
            raise ValueError(f"verifier built for features {meta.get('features')!r}, this edgeprompt uses {FEATURES!r}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a 1-row MLP: threads cost more than they save
        opts.inter_op_num_threads = 1
        session = ort.InferenceSession(
            (folder / "verifier.onnx").read_bytes(), opts, providers=["CPUExecutionProvider"]
        )
        return cls(session, meta, min_probability)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        import numpy as np

        out: np.ndarray = self.session.run(None, {"features": np.asarray(rows, dtype=np.float32)})[0]
        return out.reshape(-1)

    def probability(
        self, u: np.ndarray, v: np.ndarray, text_a: str, text_b: str, checks: dict[str, gate.Check] | None = None
    ) -> float:
        return float(self.probabilities(features(u, v, text_a, text_b, checks)[None, :])[0])

    def same(
        self, u: np.ndarray, v: np.ndarray, text_a: str, text_b: str, checks: dict[str, gate.Check] | None = None
    ) -> tuple[bool, float]:
        p = self.probability(u, v, text_a, text_b, checks)
        return p >= self.min_probability, p


def _folder() -> Traversable:
    return resources.files("edgeprompt.shipped").joinpath("cache/verifier")


def installed() -> bool:
    try:
        return _folder().joinpath("verifier.onnx").is_file()
    except (ModuleNotFoundError, OSError):
        return False


def shipped(min_probability: float) -> Verifier | None:
    """The verifier in edgeprompt/shipped/cache/verifier, or None when it is not installed (the guards still apply)."""
    if not installed():
        return None
    try:
        return Verifier.load(_folder(), min_probability)
    except (FileNotFoundError, OSError, ValueError):
        return None
