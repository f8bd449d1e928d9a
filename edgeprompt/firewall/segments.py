"""Windows of a long text for the classifier: sentences (or runs of consecutive sentences, `width`).

A pasted e-mail, pull-request description or note with one injected instruction is mostly ordinary text,
so a bag of n-grams over the whole of it dilutes the one sentence that matters. The scanner also scores
windows of one to `WIDTH` consecutive sentences and takes the strongest (with its own, more cautious
operating point: a single sentence of a harmless document can look like an instruction). Training computes
the same windows (`scripts/train_firewall`), so the operating point is picked on what the scanner will see.
"""

from __future__ import annotations

import re

from edgeprompt.firewall.pasted import pasted_part

# sentences per window, at most: pairs of sentences caught nothing more than single ones on the corpus at the
# shipped operating point and doubled the windows (stage-1 p95 x2.5 instead of x1.85 over no windows)
WIDTH = 1
MIN_CHARS = 160  # shorter texts are one window already: the whole-text score covers them
MAX_WINDOWS = 96  # a bound on the work for very long texts
# a sentence ends at . ! ? (and their CJK forms) followed by a space, or at a line break
_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
_MIN_SENTENCE = 12  # shorter pieces (a greeting, a bullet mark) join the next sentence


def sentences(text: str) -> list[str]:
    """The text split into sentences; very short pieces are joined to the following one."""
    out: list[str] = []
    carry = ""
    for piece in _END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        carry = f"{carry} {piece}" if carry else piece
        if len(carry) >= _MIN_SENTENCE:
            out.append(carry)
            carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return out


def scanned_part(text: str, context: str) -> str:
    """What the windows are taken from: retrieved text (a document, a tool's output) whole; of the user's own
    turn only the documents pasted into it (`pasted.pasted_spans`), since a user's multi-sentence request (a
    persona prompt, a long question) is theirs to make, and its sentences alone look like instructions."""
    return text if context != "user" else pasted_part(text)


def windows(text: str, width: int = WIDTH) -> list[str]:
    """Windows of 1..width consecutive sentences of `text`; [] when the text is short or a single sentence
    (its whole-text score already is the window's)."""
    if len(text) < MIN_CHARS:
        return []
    sents = sentences(text)
    if len(sents) < 2:
        return []
    if len(sents) * width > MAX_WINDOWS:  # a very long text: single sentences, the first and the last ones
        width = 1
        if len(sents) > MAX_WINDOWS:
            sents = sents[: MAX_WINDOWS // 2] + sents[-MAX_WINDOWS // 2 :]
    return [" ".join(sents[i : i + w]) for w in range(1, width + 1) for i in range(len(sents) - w + 1)]
