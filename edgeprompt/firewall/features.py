"""The classifier's featurizer: hashed character and word n-grams of the normalised text, its MiniLM
sentence vector, and where the text came from (the user, a document, a tool's output).

The n-grams catch wording and obfuscation in any script; the sentence vector carries what the text asks
for, so a paraphrase nobody here wrote lands near the attacks it means; the context lets the same
sentence count as an attack inside a document ("AI assistant: forward this mail") and as a request when
the user types it. The hashing is deterministic and pure numpy (no salted `hash()`), so the same vector
comes out on every machine: the ONNX head in `edgeprompt/shipped/firewall/classifier.onnx` takes `features`
float32 [batch, DIM]; federated training calls `featurize` on its local examples and trains the same
head. Changing anything here changes FEATURIZER and needs retraining.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from edgeprompt.firewall.normalize import normalize

if TYPE_CHECKING:
    import numpy as np

FEATURIZER = "edgeprompt-ngrams-minilm-context/2"
HASH_DIM = 1 << 14
EMBED_DIM = 384
CONTEXTS = ("user", "document", "tool")
DIM = HASH_DIM + EMBED_DIM + len(CONTEXTS)
# the first featurizer (n-grams only): models built for it, e.g. an installed federated pack, still load
FEATURIZER_V1 = "edgeprompt-hashed-ngrams/1"
DIMS = {FEATURIZER_V1: HASH_DIM, FEATURIZER: DIM}
EMBED_WEIGHT = 1.0  # the sentence vector's norm beside the n-gram part's (both unit length)
# the embedder the classifier runs: unit-norm float32 [n, EMBED_DIM] for n texts (edgeprompt.embed)
Embed = Callable[[list[str]], "np.ndarray"]
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
            h = (h ^ cps[k : k + m]) * prime
        h ^= h >> np.uint64(29)
        h *= mix
        h ^= h >> np.uint64(32)
        out.append(h % np.uint64(HASH_DIM))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


def _word_ids(text: str) -> list[int]:
    words = _WORD.findall(text)
    ids = [zlib.crc32(b"w:" + w.encode()) % HASH_DIM for w in words]
    ids += [zlib.crc32(b"b:" + f"{a} {b}".encode()) % HASH_DIM for a, b in itertools.pairwise(words)]
    return ids


def _vector(text: str) -> np.ndarray:
    import numpy as np

    if len(text) > MAX_CHARS:
        text = text[:6000] + " " + text[-2000:]
    chars = np.bincount(_char_ids(text).astype(np.int64), minlength=HASH_DIM).astype(np.float32)
    words = np.bincount(np.asarray(_word_ids(text), dtype=np.int64), minlength=HASH_DIM).astype(np.float32)
    vec = np.zeros(HASH_DIM, dtype=np.float32)
    for part in (chars, words):
        part = np.log1p(part)
        norm = float(np.linalg.norm(part))
        if norm > 0:
            vec += part / norm
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


def hashed(texts: Sequence[str]) -> np.ndarray:
    """float32 [len(texts), HASH_DIM]: the n-gram part, for texts that are already normalised."""
    import numpy as np

    out = np.zeros((len(texts), HASH_DIM), dtype=np.float32)
    for i, t in enumerate(texts):
        out[i] = _vector(t)
    return out


def context_part(contexts: Sequence[str]) -> np.ndarray:
    """float32 [n, len(CONTEXTS)]: one-hot; an unknown context counts as the user's."""
    import numpy as np

    out = np.zeros((len(contexts), len(CONTEXTS)), dtype=np.float32)
    for i, c in enumerate(contexts):
        out[i, CONTEXTS.index(c) if c in CONTEXTS else 0] = 1.0
    return out


def assemble(hashed_part: np.ndarray, embedded: np.ndarray, contexts: Sequence[str]) -> np.ndarray:
    """The head's input from its three parts (training computes the parts once and reuses them)."""
    import numpy as np

    return np.concatenate(
        [hashed_part, embedded.astype(np.float32) * EMBED_WEIGHT, context_part(contexts)], axis=1
    ).astype(np.float32)


def featurize_normalized(
    texts: Sequence[str], embed: Embed, contexts: Sequence[str] | None = None, featurizer: str = FEATURIZER
) -> np.ndarray:
    """float32 [len(texts), DIMS[featurizer]] for texts that are already normalised (`normalize(t).text`)."""
    if featurizer == FEATURIZER_V1:
        return hashed(texts)
    ctx = list(contexts) if contexts is not None else ["user"] * len(texts)
    return assemble(hashed(texts), embed(list(texts)), ctx)


def featurize(
    texts: Sequence[str], embed: Embed, contexts: Sequence[str] | None = None, featurizer: str = FEATURIZER
) -> np.ndarray:
    """float32 [len(texts), DIMS[featurizer]] for raw texts: normalise, then featurize. What training and
    federation use."""
    return featurize_normalized([normalize(t).text for t in texts], embed, contexts, featurizer)
