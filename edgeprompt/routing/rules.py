"""Routing rules: explicit `@tag` prefixes, high-precision keyword signals, and the tag precedence.

Rules are the router's cheap, explainable half. They are written for precision: a rule that fires
should almost always be right, and the classifier supplies recall. Every rule has a name, which
the decision reports (`"rules": ["keyword:code:traceback", …]`) so a wrong route can be traced
to the rule that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Built-in tags in precedence order: when a request fits several, the first one wins. Code first (a
# code model handles code about anything), then documents (only retrieval over the user's own files
# can answer), then math (pure calculation from given numbers), then legal, then general.
TAGS: tuple[str, ...] = ("code", "documents", "math", "legal", "general")

_EXPLICIT = re.compile(r"^\s*@([A-Za-z][\w.-]{0,31})(?=\s|$)\s*", re.UNICODE)

_NUM = r"(?<![\d.,])\d(?:[\d,.]*\d)?(?![.,]?\d)"  # one whole number: 7, 2.5, 18,000
_MY = r"\b(?:my|our)\s+(?:\w+\s+){0,2}"
_FILES = (
    r"(?:notes?|files?|documents?|docs|folders?|pdfs?|e-?mails?|inbox|journal|diary|notebook|spreadsheets?|"
    r"meetings|minutes|downloads|drafts?|slides|timesheets?|invoices?|receipts?|logs?|transcripts?|recordings?)"
)

# tag -> (rule name, pattern). Case-insensitive unless the pattern says otherwise.
_KEYWORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "code": (
        ("fenced-code", r"```"),
        (
            "traceback",
            r"\b(?:traceback|stack ?trace|segmentation fault|segfault|exception|TypeError|"
            r"ValueError|KeyError|NullPointer\w*|syntax error|compiler? error|undefined reference)\b",
        ),
        (
            "language",
            r"\b(?:python|javascript|typescript|java|kotlin|rust|golang|go|c\+\+|c#|ruby|php|swift|"
            r"bash|powershell|sql|vba|html|css|react|node\.?js|pandas|numpy|django|flask)\s+"
            r"(?:code|script|function|class|method|program|query|loop|error|bug|module|package|app|"
            r"component|macro|snippet|implementation)s?\b",
        ),
        (
            "in-language",
            r"\b(?:in|with|using)\s+(?:python|javascript|typescript|java|kotlin|rust|golang|go|c\+\+|"
            r"c#|c|ruby|php|swift|bash|powershell|sql|html|css)\b(?!\s+(?:coffee|island|beans))",
        ),
        (
            "code-task",
            r"\b(?:write|implement|refactor|debug|fix|review|optimi[sz]e)\s+(?:a|an|the|this|my|some)?\s*"
            r"(?:\w+\s+){0,2}(?:function|script|program|regex|regular expression|sql query|query|class|"
            r"method|unit tests?|code|macro|dockerfile|makefile|workflow|bug)\b",
        ),
        (
            "tooling",
            r"\b(?:git (?:commit|rebase|merge|branch|push|pull)|pip install|npm|docker(?:file)?|"
            r"github actions|virtual environment|venv|makefile|argparse|kubernetes manifest)\b",
        ),
        (
            "code-syntax",
            r"(?:\bdef \w+\(|\bfunction \w*\(|=>|\bconsole\.log\b|#include\b|"
            r"\bSELECT\b[\s\S]*\bFROM\b|\w+\(\)\s*[;{]|\bself\.\w+|"
            r"(?-i:(?:^|\n)\s*(?:import [\w.]+|from [\w.]+ import)))",
        ),
    ),
    "documents": (
        ("my-files", _MY + _FILES + r"\b"),
        # "wrote" is left out on purpose: "software I wrote" is a legal question, not a file lookup
        (
            "i-saved",
            r"\b(?:I|we)\s+(?:have\s+)?(?:saved|downloaded|uploaded|kept|transcribed|highlighted|"
            r"jotted|logged|shared|received|filed|scanned|attached)\b",
        ),
        ("search-mine", r"\b(?:search|look through|go through|check)\s+(?:my|our)\b"),
    ),
    "math": (
        # "-" only with spaces around it, so dates (2025-03-14) and ranges (9-5) are not sums
        (
            "arithmetic",
            r"(?<![\d-])\d+(?:\.\d+)?\s*(?:[+*/×÷^]|\s-\s|\bx\b|\btimes\b|\bdivided by\b|"
            r"\bminus\b|\bplus\b)\s*\(?\d",
        ),
        ("percent-of", r"\d+(?:\.\d+)?\s*%\s*(?:of|on)\s+\d"),
        (
            "calculus",
            r"\b(?:derivative|integrate|integral|factorial|square root|logarithm|log base|"
            r"standard deviation|least common multiple|greatest common divisor|hypotenuse)\b",
        ),
        ("solve", r"\bsolve\b[^.?!]*(?:=|\bequation|\bsystem\b)"),
        ("convert-number", r"\bconvert\s+\d[\d.,]*\s*\w+"),
        # two numbers, each whole: the digits of one amount ("a £9,000 dispute") are not a calculation
        ("how-much-numbers", r"\b(?:how (?:much|many|long)|what(?:'s| is))\b[^.?!]*?" + _NUM + r"[^.?!]*?" + _NUM),
    ),
    "legal": (
        (
            "contract",
            r"\b(?:contracts?|clauses?|lease|tenancy|nda|non-disclosure|non-compete|indemni\w+|"
            r"arbitration|force majeure|terms of service|warranty disclaimer|prenup\w*|licen[cs]e terms)\b",
        ),
        (
            "law",
            r"\b(?:legal(?:ly)?|illegal|lawful|unlawful|law|statute|gdpr|court|sue|sued|lawsuit|liable|"
            r"liability|negligence|defamation|copyright|trademark|patent|fair use|admissible|enforceable|"
            r"misdemeanou?r|felony|custody|executor|tenant|landlord)\b",
        ),
        (
            "rights",
            r"\bmy rights\b|\bam I (?:obliged|allowed|required)\b|"
            r"\bcan (?:my|a|the) \w+ (?:enforce|fine|refuse|sue)\b",
        ),
    ),
}

_COMPILED = {tag: tuple((name, re.compile(p, re.IGNORECASE)) for name, p in rules) for tag, rules in _KEYWORDS.items()}


@dataclass(frozen=True)
class RouteRuleHit:
    tag: str
    name: str  # e.g. "explicit:@code", "keyword:math:percent-of", "custom:sql"

    def __str__(self) -> str:
        return self.name


def split_explicit(text: str) -> tuple[str | None, str]:
    """(`tag`, rest) for a request that starts with `@tag`, else (None, text). Tags are lower-cased."""
    m = _EXPLICIT.match(text)
    if not m:
        return None, text
    return m.group(1).lower(), text[m.end() :]


def keyword_hits(text: str, tags: Iterable[str] = TAGS) -> list[RouteRuleHit]:
    """Every keyword rule of the built-in `tags` that fires on `text`, in precedence order."""
    hits: list[RouteRuleHit] = []
    for tag in tags:
        for name, pattern in _COMPILED.get(tag, ()):
            if pattern.search(text):
                hits.append(RouteRuleHit(tag, f"keyword:{tag}:{name}"))
    return hits


def custom_hits(text: str, custom_tags: Sequence[str]) -> list[RouteRuleHit]:
    """A custom tag (from a model card) fires when its name appears as a word in the request."""
    out = []
    for tag in custom_tags:
        words = re.escape(tag).replace(r"\-", r"[-\s]").replace("_", r"[_\s]")
        if re.search(rf"(?<![\w@]){words}(?!\w)", text, re.IGNORECASE):
            out.append(RouteRuleHit(tag, f"custom:{tag}"))
    return out


def by_precedence(tags: Iterable[str]) -> str | None:
    """The first of `tags` in precedence order (custom tags, unknown to TAGS, come first)."""
    given = list(dict.fromkeys(tags))
    custom = [t for t in given if t not in TAGS]
    if custom:
        return custom[0]
    ranked = sorted(given, key=TAGS.index)
    return ranked[0] if ranked else None
