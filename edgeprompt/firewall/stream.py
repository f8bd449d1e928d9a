"""Redaction that holds for streamed answers: text that could still be part of a secret or personal
value is held back until it is complete, so no token ever shows a raw value. Held back: the word
being written (an e-mail, key or URL grows until a space), a run of short number-like groups with a
digit in the last 30 characters (phones, cards, IBANs, and the context words that follow them), an
unclosed markdown image and an unterminated private-key block; at most `holdback` characters of
ordinary text, so plain prose streams as fast as it comes.

`feed(piece)` returns the text that is safe to show now (already redacted); `finish()` returns the
rest. A finding whose policy is `block` stops the stream: nothing more is shown, and `result()`
says block (the caller replaces the answer with the safe message).
"""

from __future__ import annotations

import re
import time

from edgeprompt.firewall.output import OutputResult, OutputValidator, redact

HOLDBACK = 64  # characters; longer than any phone, card, IBAN or e-mail a sentence carries on one line
LOOKBACK = 128  # context the detectors need before the held text (e.g. "phone:" before a number)
CONTEXT_AFTER = 30  # a number stays held while its context ("… mobile") may still follow
# Detectors run once per CHECK_EVERY new characters, not per token, and never take more than ~0.5% of the
# stream's time: after a check that took d seconds the next waits max(CHECK_INTERVAL_S, 200 d), unless
# MAX_UNCHECKED characters are waiting. Holding text longer is always safe; per-token checks cost half the
# decode rate of a fast small model, and at 40 tok/s (48 characters in ~300 ms) the waits never bind; a
# fast model's text still shows 20 times a second.
CHECK_EVERY = 48
CHECK_INTERVAL_S = 0.05
CHECK_BUDGET = 200  # a check's duration times this is the least time to the next one
MAX_UNCHECKED = 2048
_TAIL_RUN = re.compile(r"\S+$")
_NUMBER_CHARS = frozenset("().+-/:#")
_MD_IMAGE_OPEN = re.compile(r"!\[[^\]\n]{0,200}(?:\]\([^)\s]*)?$|<img\b[^>]*$", re.IGNORECASE)
_PEM_OPEN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?![\s\S]*-----END)")


def _number_run_start(raw: str, floor: int) -> int:
    """Start of the trailing run of short or digit-bearing tokens (a phone, card or IBAN being written,
    with the few words around it), found by walking back over at most `len(raw) - floor` characters."""
    pos, start, has_digit = len(raw), len(raw), False
    for token in reversed(raw[floor:].split(" ")):
        begin = pos - len(token)
        digits = any(c.isdigit() for c in token)
        if (len(token) > 6 and not digits) or any(not (c.isalnum() or c in _NUMBER_CHARS) for c in token):
            break
        has_digit = has_digit or digits
        start, pos = begin, begin - 1
    return start if has_digit else len(raw)


class StreamGuard:
    def __init__(self, validator: OutputValidator, holdback: int = HOLDBACK) -> None:
        self.validator = validator
        self.holdback = max(8, holdback)
        self.raw = ""
        self.cut = 0  # raw text before this offset has been shown (redacted)
        self.shown: list[str] = []
        self.blocked = False
        self._unchecked = 0  # characters fed since the detectors last ran
        self._next_check = 0.0

    def _hold_from(self) -> int:
        """Raw offset from which text must still be held back."""
        end = len(self.raw)
        start = end
        # only text after the cut can still be held, so every search starts there (no rescans of the answer)
        if (m := _TAIL_RUN.search(self.raw, self.cut)) is not None:
            start = m.start()  # never split a word that may still grow into a key or an e-mail
        window_start = max(self.cut, end - self.holdback)
        recent = self.raw[max(window_start, end - CONTEXT_AFTER) :]
        if any(c.isdigit() for c in recent):
            start = min(start, _number_run_start(self.raw, window_start))
        if (m := _MD_IMAGE_OPEN.search(self.raw, window_start)) is not None:
            start = min(start, m.start())
        if (m := _PEM_OPEN.search(self.raw, max(0, self.cut - 64))) is not None:
            start = min(start, m.start())  # a private key block is held until it ends
        return max(start, self.cut)

    def _release(self, upto: int, final: bool) -> str:
        base = max(0, self.cut - LOOKBACK)
        window = self.raw[base:]
        found = [
            f
            for f in self.validator.findings(window, final=final)
            if f.end - f.start < len(window) or f.type != "SYSTEM_PROMPT_LEAK"
        ]
        acted = [f for f in found if self.validator.action(f) != "allow"]
        if any(self.validator.action(f) == "block" for f in acted):
            self.blocked = True
            return ""
        local = upto - base
        for f in acted:  # never cut through a value that is still being written
            if f.start < local < f.end:
                local = f.start
        upto = base + local
        if upto <= self.cut:
            return ""
        lo = self.cut - base
        inside = [type(f)(f.type, f.start - lo, f.end - lo) for f in acted if f.start >= lo and f.end <= local]
        out = redact(self.raw[self.cut : upto], inside)
        self.cut = upto
        self.shown.append(out)
        return out

    def feed(self, piece: str) -> str:
        if self.blocked or not piece:
            return ""
        self.raw += piece
        self._unchecked += len(piece)
        if self._unchecked < CHECK_EVERY:
            return ""
        now = time.perf_counter()
        if now < self._next_check and self._unchecked < MAX_UNCHECKED:
            return ""
        self._unchecked = 0
        upto = self._hold_from()
        out = self._release(upto, final=False) if upto > self.cut else ""
        self._next_check = now + max(CHECK_INTERVAL_S, CHECK_BUDGET * (time.perf_counter() - now))
        return out

    def finish(self) -> str:
        if self.blocked:
            return ""
        return self._release(len(self.raw), final=True)

    @property
    def text(self) -> str:
        """What was shown, in order: the streamed answer after redaction."""
        return "".join(self.shown)

    def result(self) -> OutputResult:
        """The final check over the whole answer (leaks and schema need all of it)."""
        full = self.validator.check(self.raw)
        if self.blocked or full.decision == "block":
            return full
        # what was shown is the answer; check it once more so nothing slipped through a window edge
        again = self.validator.check(self.text)
        shown = again.redacted_text if again.findings and again.decision != "allow" else self.text
        return OutputResult(full.decision, full.findings, shown, full.latency_ms, full.actions)


class PassThrough:
    """The guard's shape when the firewall is off: every piece is shown as it comes."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def feed(self, piece: str) -> str:
        self.shown.append(piece)
        return piece

    def finish(self) -> str:
        return ""

    @property
    def text(self) -> str:
        return "".join(self.shown)
