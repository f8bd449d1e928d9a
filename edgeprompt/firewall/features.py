"""The classifier's featurizer: hashed character n-grams and word n-grams of the normalised text.

Deterministic and pure numpy, so the same vector comes out on every machine and Python (no
`hash()`, which is salted per process): the ONNX head in `models/firewall/classifier.onnx` takes
`features` float32 [batch, DIM]; federated training (issue 9) calls `featurize` on its local
examples and trains the same head. Changing anything here changes FEATURIZER and needs retraining.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from edgeprompt.firewall.normalize import normalize

if TYPE_CHECKING:
    import numpy as np

FEATURIZER = "edgeprompt-hashed-ngrams/1"
DIM = 1 << 14
CHAR_NGRAMS = (2, 3, 4, 5)
MAX_CHARS = 8000  # longer texts are featurized on their first 6000 and last 2000 characters
_WORD = re.compile(r"\w+", re.UNICODE)
_PRIME = 0x100000001B3
_MIX = 0x9E3779B97F4A7C15


def _char_ids(text: str) -> np.ndarray:
    import numpy as np

    cps = np.frombuffer((" " + text + " ").encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    out = []
    prime, mix = np.uint64(_PRIME), np.uint64(_MIX)
    for n in CHAR_NGRAMS:
        m = len(cps) - n + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64(n * 0x51ED27), dtype=np.uint64)
        for k in range(n):
            h = (h ^ cps[k:k + m]) * prime
        h ^= h >> np.uint64(29)
        h *= mix
        h ^= h >> np.uint64(32)
        out.append(h % np.uint64(DIM))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


def _word_ids(text: str) -> list[int]:
    words = _WORD.findall(text)
    ids = [zlib.crc32(b"w:" + w.encode()) % DIM for w in words]
    ids += [zlib.crc32(b"b:" + f"{a} {b}".encode()) % DIM for a, b in itertools.pairwise(words)]
    return ids


def _vector(text: str) -> np.ndarray:
    import numpy as np

    if len(text) > MAX_CHARS:
        text = text[:6000] + " " + text[-2000:]
    chars = np.bincount(_char_ids(text).astype(np.int64), minlength=DIM).astype(np.float32)
    words = np.bincount(np.asarray(_word_ids(text), dtype=np.int64), minlength=DIM).astype(np.float32)
    vec = np.zeros(DIM, dtype=np.float32)
    for part in (chars, words):
        part = np.log1p(part)
        norm = float(np.linalg.norm(part))
        if norm > 0:
            vec += part / norm
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def featurize_normalized(texts: Sequence[str]) -> np.ndarray:
    """float32 [len(texts), DIM] for texts that are already normalised (`normalize(t).text`)."""
    import numpy as np

    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i] = _vector(t)
    return out


def featurize(texts: Sequence[str]) -> np.ndarray:
    """float32 [len(texts), DIM] for raw texts: normalise, then hash. What training and federation use."""
    return featurize_normalized([normalize(t).text for t in texts])
