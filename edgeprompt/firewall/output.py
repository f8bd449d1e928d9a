"""Stage 3: validate an answer: PII and secrets, canary and system-prompt leaks, data-carrying links
and images, optional JSON-schema validity. Each finding type has a policy: allow, redact (a typed
placeholder replaces the whole value) or block (the answer becomes a safe message).
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.firewall.normalize import normalize
from edgeprompt.firewall.pii import Finding, detect, resolve

SAFE_MESSAGE = "I can't share that answer: it would have disclosed protected information."
ACTIONS = ("allow", "redact", "block")
# settings key (`[firewall] policy_<key>`) → the finding types it governs
POLICY_KEYS = {
    "email": ("EMAIL_ADDRESS",),
    "phone": ("PHONE_NUMBER",),
    "credit_card": ("CREDIT_CARD",),
    "iban": ("IBAN_CODE",),
    "us_ssn": ("US_SSN",),
    "ip_address": ("IP_ADDRESS",),
    "secret": ("API_KEY", "SECRET"),
    "canary": ("CANARY_LEAK",),
    "system_prompt": ("SYSTEM_PROMPT_LEAK",),
    "markdown_image": ("MARKDOWN_IMAGE",),
    "exfil_link": ("EXFIL_LINK",),
    "schema": ("SCHEMA_INVALID",),
}
DEFAULT_POLICY = {
    "EMAIL_ADDRESS": "redact",
    "PHONE_NUMBER": "redact",
    "CREDIT_CARD": "redact",
    "IBAN_CODE": "redact",
    "US_SSN": "redact",
    "IP_ADDRESS": "redact",
    "API_KEY": "redact",
    "SECRET": "redact",
    "CANARY_LEAK": "block",
    "SYSTEM_PROMPT_LEAK": "block",
    "MARKDOWN_IMAGE": "redact",
    "EXFIL_LINK": "redact",
    "SCHEMA_INVALID": "block",
}

_MD_IMAGE = re.compile(
    r"!\[[^\]\n]{0,200}\]\(\s*<?(https?://[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|<img\b[^>]*\bsrc=[\"']?(https?://[^\"'\s>]+)[^>]*>",
    re.IGNORECASE,
)
_LINK = re.compile(r"https?://[^\s)\]>\"']+", re.IGNORECASE)
_DATA_PARAM = re.compile(
    r"[?&#][^=&#\s]{1,40}=([^&#\s]{24,})|(?:%[0-9a-fA-F]{2}){6,}|"
    r"/[A-Za-z0-9+/_-]{40,}={0,2}(?:[/?#]|$)"
)
_WORDS = re.compile(r"\w+")
_CARRIED = re.compile(r"[^\W_]{4,}", re.UNICODE)  # words and numbers long enough to say something
CARRIED_WORDS = 2  # this many words of the conversation in a link's query make it a data-carrying link
LEAK_NGRAM = 8  # this many consecutive words of the system text in an answer count as a leak


def policy_from_settings(section: Mapping[str, Any]) -> dict[str, str]:
    from edgeprompt.errors import ConfigError

    policy = dict(DEFAULT_POLICY)
    for key, types in POLICY_KEYS.items():
        value = section.get(f"policy_{key}")
        if value is None:
            continue
        if value not in ACTIONS:
            raise ConfigError(f"[firewall] policy_{key} must be one of {', '.join(ACTIONS)}, got {value!r}")
        for t in types:
            policy[t] = str(value)
    return policy


@dataclass(frozen=True)
class OutputResult:
    decision: str  # allow | flag (something was redacted) | block
    findings: list[Finding]
    redacted_text: str
    latency_ms: float = 0.0
    actions: dict[str, str] = field(default_factory=dict)  # finding type → what was done

    @property
    def categories(self) -> list[str]:
        return sorted({f.type for f in self.findings})

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "findings": [f.as_dict() for f in self.findings],
            "redacted_text": self.redacted_text,
            "latency_ms": round(self.latency_ms, 3),
            "actions": self.actions,
        }


def _canary_findings(text: str, canary: str, final: bool = True) -> list[Finding]:
    low = text.lower()
    c = canary.lower()
    if (i := low.find(c)) >= 0:
        return [Finding("CANARY_LEAK", i, i + len(c), "exact")]
    squashed_c = re.sub(r"[\W_]", "", c)
    if squashed_c and squashed_c in re.sub(r"[\W_]", "", low):
        return [Finding("CANARY_LEAK", 0, len(text), "spaced")]
    encodings = {base64.b64encode(canary.encode()).decode().rstrip("="), canary.encode().hex()}
    # decoding every embedded payload costs ~0.5 ms: once over the whole answer, not on each streamed window
    if any(e and e.lower() in low for e in encodings) or (final and any(c in p for p in normalize(text).payloads)):
        return [Finding("CANARY_LEAK", 0, len(text), "encoded")]
    return []


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _leak_findings(text: str, system_text: str) -> list[Finding]:
    sys_words = _WORDS.findall(system_text.lower())
    if len(sys_words) < LEAK_NGRAM:
        return []
    if _ngrams(_WORDS.findall(text.lower()), LEAK_NGRAM) & _ngrams(sys_words, LEAK_NGRAM):
        return [Finding("SYSTEM_PROMPT_LEAK", 0, len(text), f"{LEAK_NGRAM} or more words of the system text")]
    return []


def _carried(url: str, context: str) -> list[str]:
    """Words of the conversation that a link's query or fragment carries (a link copied whole from the
    conversation or a document carries nothing new: it is the user's own link)."""
    from urllib.parse import unquote_plus, urlsplit

    if not context or url.casefold() in context:
        return []
    parts = urlsplit(url)
    words = _CARRIED.findall(unquote_plus(f"{parts.query} {parts.fragment}").casefold())
    return [w for w in dict.fromkeys(words) if w in context]


def _link_findings(text: str, context: str = "") -> list[Finding]:
    """Remote images; links whose URL carries an encoded blob, personal data, or words of the conversation."""
    out = [Finding("MARKDOWN_IMAGE", m.start(), m.end()) for m in _MD_IMAGE.finditer(text)]
    for m in _LINK.finditer(text):
        url = m.group(0)
        carried = _carried(url, context)
        # two words of the conversation, or one number/identifier from it (an account, an invoice)
        carries = len(carried) >= CARRIED_WORDS or any(len(w) >= 6 and any(c.isdigit() for c in w) for w in carried)
        if _DATA_PARAM.search(url) or detect(url) or carries:
            detail = f"carries: {' '.join(carried[:6])}" if carries else ""
            out.append(Finding("EXFIL_LINK", m.start(), m.end(), detail))
    return out


def _schema_findings(text: str, schema: dict[str, Any]) -> list[Finding]:
    import jsonschema

    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL)
    try:
        doc = json.loads(fenced.group(1) if fenced else body)
    except ValueError as e:
        return [Finding("SCHEMA_INVALID", 0, len(text), f"not JSON: {e}")]
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        return [Finding("SCHEMA_INVALID", 0, len(text), e.message[:200])]
    return []


def _repeats(text: str, found: list[Finding]) -> list[Finding]:
    """Every other place a found value appears: a secret quoted with its label ("the password is X") and
    repeated bare (a short answer "X [1]") is the same secret, and the bare copy has no label to find it by."""
    out: list[Finding] = []
    for f in found:
        value = text[f.start : f.end]
        if len(value.strip()) < 4:  # too short to be the same value by chance
            continue
        # whole tokens only: a found "1234" must not redact part of "12345"
        before = r"(?<!\w)" if value[0].isalnum() else ""
        after = r"(?!\w)" if value[-1].isalnum() else ""
        pattern = before + re.escape(value) + after
        out += [Finding(f.type, m.start(), m.end(), f.detail) for m in re.finditer(pattern, text)]
    return out


def redact(text: str, findings: list[Finding]) -> str:
    """Replace each finding's whole span by its typed placeholder, e.g. [EMAIL_ADDRESS]."""
    out, pos = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:
            continue
        out.append(text[pos : f.start])
        out.append(f"[{f.type}]")
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


class OutputValidator:
    def __init__(
        self,
        policy: Mapping[str, str] | None = None,
        canary: str | None = None,
        system_text: str | None = None,
        schema: dict[str, Any] | None = None,
        context: Sequence[str] = (),
    ) -> None:
        self.policy = dict(policy or DEFAULT_POLICY)
        self.canary = canary
        self.system_text = system_text
        self.schema = schema
        # the conversation and the documents: what a link in the answer must not smuggle out
        self.context = " ".join(" ".join(context).casefold().split())

    def findings(self, text: str, final: bool = True) -> list[Finding]:
        """Everything found; `final=False` (mid-stream) skips the checks that need the whole answer."""
        found = detect(text) + _link_findings(text, self.context)
        if self.canary:
            found += _canary_findings(text, self.canary, final)
        if final and self.system_text:
            found += _leak_findings(text, self.system_text)
        if final and self.schema is not None:
            found += _schema_findings(text, self.schema)
        whole = [f for f in found if f.type in ("CANARY_LEAK", "SYSTEM_PROMPT_LEAK", "SCHEMA_INVALID")]
        spans = [f for f in found if f not in whole]
        spans = resolve(spans + [r for r in _repeats(text, spans) if r not in spans])
        return sorted(spans + whole, key=lambda f: (f.start, f.type))

    def action(self, f: Finding) -> str:
        return self.policy.get(f.type, "redact")

    def shown(self, text: str) -> tuple[str, list[str]]:
        """Text shown outside an answer (a search hit, a document's chunk) with what an answer would have
        redacted or withheld replaced by placeholders, and the types found: one redaction path for both."""
        acted = [f for f in self.findings(text) if self.action(f) != "allow" and f.type != "SCHEMA_INVALID"]
        return redact(text, acted), sorted({f.type for f in acted})

    def check(self, text: str) -> OutputResult:
        t0 = time.perf_counter()
        findings = self.findings(text)
        acted = [f for f in findings if self.action(f) != "allow"]
        actions = {f.type: self.action(f) for f in findings}
        if any(self.action(f) == "block" for f in acted):
            return OutputResult("block", findings, SAFE_MESSAGE, (time.perf_counter() - t0) * 1000, actions)
        redacted = redact(text, [f for f in acted if f.type != "SCHEMA_INVALID"])  # a bad shape is only flagged
        decision = "flag" if acted else "allow"
        return OutputResult(decision, findings, redacted, (time.perf_counter() - t0) * 1000, actions)
