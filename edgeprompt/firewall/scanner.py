"""Stage 1: `Scanner.scan(text, context) -> Verdict` for the user's turn and every retrieved chunk.

normalise (and decode payloads) → rule pack + classifier on every layer → one score →
allow | flag | block against the thresholds in settings (`[firewall]`). Blocking needs a high score;
anything between the two thresholds is flagged and goes on with a notice.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from edgeprompt.firewall.classifier import Classifier
from edgeprompt.firewall.normalize import normalize
from edgeprompt.firewall.rules import RulePack, rule_score

MENTION_FACTOR = 0.5  # a high-severity rule (0.85) in a discussion: 0.425, below the flag threshold

DECISIONS = ("allow", "flag", "block")
_ENCODINGS = {"base64", "hex", "url_encoding", "rot13", "unicode_tags"}
_HIDING = {"zero_width", "bidi", "homoglyph", "spaced", "leetspeak", "fullwidth"}


@dataclass(frozen=True)
class Verdict:
    decision: str  # allow | flag | block
    score: float
    categories: list[str]
    matched_rules: list[str]
    latency_ms: float
    context: str = "user"
    classifier_score: float = 0.0
    rule_score: float = 0.0
    transforms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 4)
        d["classifier_score"] = round(self.classifier_score, 4)
        d["rule_score"] = round(self.rule_score, 4)
        d["latency_ms"] = round(self.latency_ms, 3)
        return d


@dataclass(frozen=True)
class Thresholds:
    flag: float = 0.5
    block: float = 0.9
    document_flag: float = 0.6
    document_block: float = 0.9

    @classmethod
    def from_settings(cls, section: Mapping[str, Any]) -> Thresholds:
        t = cls(
            float(section["flag_threshold"]),
            float(section["block_threshold"]),
            float(section["document_flag_threshold"]),
            float(section["document_block_threshold"]),
        )
        for lo, hi in ((t.flag, t.block), (t.document_flag, t.document_block)):
            if not 0.0 < lo <= hi <= 1.0:
                from edgeprompt.errors import ConfigError

                raise ConfigError(f"[firewall] thresholds must satisfy 0 < flag <= block <= 1 (got {lo}, {hi})")
        return t

    def decide(self, score: float, context: str) -> str:
        # a tool's output is retrieved text like a document: both get the document thresholds
        flag, block = (self.flag, self.block) if context == "user" else (self.document_flag, self.document_block)
        return "block" if score >= block else "flag" if score >= flag else "allow"


def combine(p: float, r: float, mention: bool) -> float:
    """One score from the classifier's P(attack) and the rule score (two independent-ish votes). Text that
    talks about attacks keeps only part of its rule vote: a question about "ignore previous instructions"
    quotes the phrase a rule looks for, so the rules alone do not flag it; the classifier's vote stays whole."""
    if mention:
        r *= MENTION_FACTOR
    return 1.0 - (1.0 - p) * (1.0 - r)


class Scanner:
    def __init__(self, rules: RulePack, classifier: Classifier | None, thresholds: Thresholds | None = None) -> None:
        self.rules = rules
        self.classifier = classifier
        self.thresholds = thresholds or Thresholds()

    def scan(self, text: str, context: str = "user") -> Verdict:
        """Score one text; `context` is "user" for the user's turn, "document" for retrieved text, "tool" for
        a tool's output (the rule pack reads tool output as a document)."""
        t0 = time.perf_counter()
        norm = normalize(text)
        hits = self.rules.scan_hits(norm, context)  # a document pasted into the user's turn reads as a document
        r = rule_score(hits)
        probs = self.classifier.predict(list(norm.variants), context) if self.classifier is not None else [0.0]
        p = max(probs) if probs else 0.0
        if self.classifier is not None:  # one injected sentence in a long pasted text: its windows too
            p = max(p, self.classifier.segment_score(norm.text, context))
        score = combine(p, r, any(h.rule.kind == "mention" for h in hits))
        categories = sorted({h.rule.category for h in hits if h.rule.kind == "attack"})
        if p >= min(self.thresholds.flag, self.thresholds.document_flag):
            categories.append("classifier")
        payload_fired = max(probs[1:], default=0.0) >= 0.5 or any(h.variant > 0 for h in hits)
        hidden = bool(_HIDING & set(norm.transforms)) or (bool(_ENCODINGS & set(norm.transforms)) and payload_fired)
        if categories and hidden:
            categories.append("obfuscation")
        decision = self.thresholds.decide(score, context)
        return Verdict(
            decision,
            score,
            categories,
            [h.rule.id for h in hits],
            (time.perf_counter() - t0) * 1000.0,
            context,
            p,
            r,
            list(norm.transforms),
        )
