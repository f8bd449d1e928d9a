"""The versioned rule pack: regular expressions with ids, categories, severities, languages, contexts.

The shipped pack is `edgeprompt/shipped/firewall/rules.toml`; a pack installed by `firewall intel import` into
`<home>/models/firewall/rules.toml` replaces it. Rules run on the normalised text (see
normalize.py), which is lower-case: patterns are written in lower case and compiled without
IGNORECASE (case folding per character doubled the matching time).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from edgeprompt.errors import UsageError
from edgeprompt.firewall.normalize import Normalized, squash
from edgeprompt.firewall.pasted import pasted_part

SEVERITY = {"low": 0.30, "medium": 0.60, "high": 0.85, "critical": 0.97}
CONTEXTS = ("user", "document")


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    languages: tuple[str, ...]
    contexts: tuple[str, ...]
    pattern: re.Pattern[str]
    squash: bool = False
    kind: str = "attack"  # attack | mention
    # a document rule that also reads a document the user pasted into their turn (`pasted.pasted_spans`)
    pasted: bool = False

    @property
    def score(self) -> float:
        return SEVERITY[self.severity]


# Rules for a script run only when the text has a letter of that script: the cheapest prefilter there is.
_SCRIPTS = {
    "zh": re.compile(r"[\u3400-\u9fff\uf900-\ufaff]"),
    "ja": re.compile(r"[\u3040-\u30ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
}


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    variant: int  # 0 = the text itself, 1.. = a decoded payload
    span: tuple[int, int]


@dataclass(frozen=True)
class RulePack:
    name: str
    version: str
    rules: tuple[Rule, ...]
    source: str = ""

    def match(self, norm: Normalized, context: str = "user") -> list[RuleHit]:
        """Every rule that fires on the text or on one of its decoded payloads (one hit per rule)."""
        return _match(self.rules, norm, context)

    @cached_property
    def _pasted_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.pasted)

    def match_pasted(self, norm: Normalized) -> list[RuleHit]:
        """The `pasted` document rules on the documents pasted into a user's turn (`pasted.pasted_spans`: e-mail
        headers, quotes, fences, a lead-in line …); [] when the turn shows no sign of pasting."""
        part = pasted_part(norm.text)
        if not part:
            return []
        return _match(self._pasted_rules, Normalized(part, squashed=squash(part)), "document")

    def scan_hits(self, norm: Normalized, context: str) -> list[RuleHit]:
        """The hits the scanner scores: every rule for the context (tool output reads as a document), and in the
        user's turn the `pasted` rules on any document pasted into it (one hit per rule)."""
        hits = self.match(norm, "user" if context == "user" else "document")
        if context == "user":
            seen = {h.rule.id for h in hits}
            hits += [h for h in self.match_pasted(norm) if h.rule.id not in seen]
        return hits

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "rules": len(self.rules),
            "source": self.source,
            "languages": sorted({lang for r in self.rules for lang in r.languages}),
        }


def _match(rules: tuple[Rule, ...], norm: Normalized, context: str) -> list[RuleHit]:
    hits: list[RuleHit] = []
    joined = " ".join(norm.variants)
    absent = {lang for lang, rx in _SCRIPTS.items() if not rx.search(joined)}
    for rule in rules:
        if context not in rule.contexts or (rule.languages and set(rule.languages) <= absent):
            continue
        texts = (norm.squashed,) if rule.squash else norm.variants
        for i, text in enumerate(texts):
            m = rule.pattern.search(text)
            if m is not None:
                hits.append(RuleHit(rule, 0 if rule.squash else i, m.span()))
                break
    return hits


def _rule(raw: dict[str, Any], where: str) -> Rule:
    try:
        rid = str(raw["id"])
        severity = str(raw.get("severity", "medium"))
        if severity not in SEVERITY:
            raise ValueError(f"severity must be one of {', '.join(SEVERITY)}")
        contexts = tuple(raw.get("contexts", CONTEXTS))
        if not set(contexts) <= set(CONTEXTS):
            raise ValueError(f"contexts must be among {', '.join(CONTEXTS)}")
        kind = str(raw.get("kind", "attack"))
        if kind not in ("attack", "mention"):
            raise ValueError("kind must be attack or mention")
        return Rule(
            id=rid,
            category=str(raw.get("category", "other")),
            severity=severity,
            languages=tuple(raw.get("languages", ("any",))),
            contexts=contexts,
            pattern=re.compile(str(raw["pattern"])),
            squash=bool(raw.get("squash", False)),
            kind=kind,
            pasted=bool(raw.get("pasted", False)),
        )
    except (KeyError, ValueError, TypeError, re.error) as e:
        raise UsageError(f"{where}: rule {raw.get('id', '?')}: {e}") from e


def parse_pack(text: str, source: str = "") -> RulePack:
    """Parse and compile a rule pack; any invalid rule refuses the whole pack."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{source or 'rule pack'}: not valid TOML ({e})") from e
    raw_rules = doc.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise UsageError(f"{source or 'rule pack'}: no [[rule]] entries")
    rules = tuple(_rule(r, source or "rule pack") for r in raw_rules)
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise UsageError(f"{source or 'rule pack'}: duplicate rule ids")
    return RulePack(str(doc.get("name", "rules")), str(doc.get("version", "0")), rules, source)


def shipped_dir() -> Path:
    from importlib import resources

    return Path(str(resources.files("edgeprompt.shipped") / "firewall"))


def load_pack(models_dir: Path) -> RulePack:
    """The installed pack in `<home>/models/firewall/` if there is one, else the shipped pack."""
    for folder, origin in ((models_dir / "firewall", "installed"), (shipped_dir(), "shipped")):
        path = folder / "rules.toml"
        if path.is_file():
            return parse_pack(path.read_text(encoding="utf-8"), f"{origin}:{path}")
    raise UsageError("no firewall rule pack found (edgeprompt/shipped/firewall/rules.toml is missing)")


def rule_score(hits: list[RuleHit]) -> float:
    """Combine rule severities: the strongest attack rule, nudged up by independent categories."""
    attack = [h.rule for h in hits if h.rule.kind == "attack"]
    if not attack:
        return 0.0
    by_cat: dict[str, float] = {}
    for r in attack:
        by_cat[r.category] = max(by_cat.get(r.category, 0.0), r.score)
    scores = sorted(by_cat.values(), reverse=True)
    miss = 1.0 - scores[0]
    for s in scores[1:]:
        miss *= 1.0 - 0.5 * s  # a second category adds evidence, but less than a full independent vote
    return 1.0 - miss
