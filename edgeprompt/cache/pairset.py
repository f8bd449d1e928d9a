"""The verifier's labelled question pairs, built from edgeprompt/shipped/cache/verifier/paraphrases.txt.

Groups of hand-written paraphrases give the positives (any two lines of a group, plus light rewordings);
`perturb.near_misses` of every line and each line's nearest question from another group give the
negatives. Groups are split by a hash of their first line into train / calib / test, so no paraphrase
group has lines on two sides: calib picks the operating point, test is only measured.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from edgeprompt.cache.perturb import near_misses

if TYPE_CHECKING:
    import numpy as np

SPLITS = ("train", "calib", "test")
_LIGHT = ("Can you tell me: {q}", "{q} Thanks!", "Please, {q}", "Hey - {q}", "I'd like to know: {q}")


@dataclass(frozen=True)
class Pair:
    q1: str
    q2: str
    duplicate: int
    kind: str  # paraphrase | light | direction | terms | units | numbers | negation | roles | word | neighbour
    split: str


def groups(text: str | None = None) -> list[list[str]]:
    if text is None:
        text = resources.files("edgeprompt.shipped").joinpath("cache/verifier/paraphrases.txt").read_text("utf-8")
    out: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if line.strip():
            out[-1].append(line.strip())
        elif out[-1]:
            out.append([])
    return [g for g in out if len(g) >= 2]


def split_of(group: Sequence[str]) -> str:
    """train (60%) / calib (20%) / test (20%), fixed by a hash of the group's first line."""
    h = int.from_bytes(hashlib.sha256(group[0].encode()).digest()[:4], "big") / 2**32
    return "train" if h < 0.6 else "calib" if h < 0.8 else "test"


def build(all_groups: Sequence[Sequence[str]], embed: Callable[[list[str]], np.ndarray], seed: int = 0) -> list[Pair]:
    """Every pair of every split; `embed` finds each line's nearest question in other groups."""
    import numpy as np

    rng = random.Random(seed)
    pairs: list[Pair] = []
    for split in SPLITS:
        gs = [list(g) for g in all_groups if split_of(g) == split]
        lines = [(gi, q) for gi, g in enumerate(gs) for q in g]
        vocab = sorted({w for _, q in lines for w in q.rstrip("?").split() if w.isalpha()})
        for g in gs:
            for i, a in enumerate(g):
                pairs += [Pair(a, b, 1, "paraphrase", split) for b in g[i + 1 :]]
                light = rng.choice(_LIGHT).format(q=a[0].lower() + a[1:])
                pairs.append(Pair(a, light, 1, "light", split))
                own = [w for w in vocab if w.lower() not in a.lower()]
                pairs += [Pair(a, n.text, 0, n.kind, split) for n in near_misses(a, rng, own)]
                other = g[(i + 1) % len(g)]  # a paraphrase's near misses too: the pair is not a rewrite
                pairs += [Pair(other, n.text, 0, n.kind, split) for n in near_misses(a, rng, own)[:2]]
        if len(gs) > 1:
            vecs = embed([q for _, q in lines])
            sims = vecs @ vecs.T
            for i, (gi, q) in enumerate(lines):
                same = np.array([gj == gi for gj, _ in lines])
                sims[i, same] = -2.0
                for j in np.argsort(-sims[i])[:2]:
                    pairs.append(Pair(q, lines[int(j)][1], 0, "neighbour", split))
    return pairs
