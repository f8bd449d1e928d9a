"""Near-miss rewrites of a question, for training and testing the cache verifier.

Each rewrite keeps most of the words but asks something else: the two sides of a direction word swapped
("km to miles" -> "miles to km"), a related term or unit replaced (radius -> diameter, Celsius ->
Fahrenheit), a number changed, a negation added, two names swapped, a content word replaced by one from
another question. Embeddings put such a pair very close together; a cached answer to one is wrong for
the other. Deterministic for a given `random.Random`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgeprompt.cache.gate import _CONTRAST, COMMON, DIRECTION_WORDS, UNITS

_WORD = re.compile(r"[A-Za-z][A-Za-z'/.-]*[A-Za-z]|[A-Za-z]|\d+(?:[.,]\d+)*")
UNIT_FAMILIES = (
    ("kilometers", "miles", "meters", "feet", "yards", "inches", "centimeters"),
    ("km", "mi", "m", "ft", "cm", "mm"),
    ("mph", "km/h", "m/s", "knots"),
    ("celsius", "fahrenheit", "kelvin"),
    ("kg", "pounds", "grams", "ounces", "stone"),
    ("liters", "gallons", "cups", "milliliters", "pints"),
    ("seconds", "minutes", "hours", "days", "weeks", "months", "years"),
    ("dollars", "euros", "pounds", "yen", "rupees"),
)
_UNIT_FAMILY = {u: fam for fam in UNIT_FAMILIES for u in fam}
_NEGATE = (
    ("can ", "can't "),
    ("is ", "isn't "),
    ("does ", "doesn't "),
    ("do ", "don't "),
    ("should ", "shouldn't "),
    ("are ", "aren't "),
    ("will ", "won't "),
    ("with ", "without "),
)


@dataclass(frozen=True)
class NearMiss:
    text: str
    kind: str  # direction | terms | units | numbers | negation | roles | word


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_WORD.finditer(text))


def _replace(text: str, m: re.Match[str], new: str) -> str:
    return text[: m.start()] + new + text[m.end() :]


def _content(tok: str) -> bool:
    low = tok.lower()
    return low not in COMMON and low not in DIRECTION_WORDS and not low[0].isdigit() and len(low) > 2


def swap_direction(text: str, rng: random.Random) -> str | None:
    """Swap the words on either side of a direction word: "5 km to miles" -> "5 miles to km"."""
    toks = _tokens(text)
    spots = [
        i
        for i in range(1, len(toks) - 1)
        if toks[i].group().lower() in DIRECTION_WORDS
        and toks[i].group().lower() not in ("of", "at", "on", "by", "as")
        and _content(toks[i - 1].group())
        and _content(toks[i + 1].group())
        and toks[i - 1].group().lower() != toks[i + 1].group().lower()
    ]
    if not spots:
        return None
    i = rng.choice(spots)
    a, b = toks[i - 1], toks[i + 1]
    return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]


def _swap_in_family(text: str, rng: random.Random, family: Callable[[str], Sequence[str] | None]) -> str | None:
    spots = [(m, fam) for m in _tokens(text) if (fam := family(m.group().lower()))]
    if not spots:
        return None
    m, fam = rng.choice(spots)
    others = [w for w in fam if w != m.group().lower() and UNITS.get(w, w) != UNITS.get(m.group().lower())]
    return _replace(text, m, rng.choice(others)) if others else None


_TERM_FAMILIES: dict[int, list[str]] = {}
for _form, (_group, _canon) in _CONTRAST.items():
    if " " not in _form:
        _TERM_FAMILIES.setdefault(_group, [])
        if _canon not in _TERM_FAMILIES[_group]:
            _TERM_FAMILIES[_group].append(_canon)


def swap_term(text: str, rng: random.Random) -> str | None:
    """Replace a word of a contrast set with another member: radius -> diameter, buy -> sell."""

    def family(w: str) -> Sequence[str] | None:
        hit = _CONTRAST.get(w)
        return None if hit is None else [c for c in _TERM_FAMILIES[hit[0]] if c != hit[1]] + [hit[1]]

    return _swap_in_family(text, rng, family)


def swap_unit(text: str, rng: random.Random) -> str | None:
    return _swap_in_family(text, rng, _UNIT_FAMILY.get)


def change_number(text: str, rng: random.Random) -> str | None:
    spots = [m for m in _tokens(text) if m.group()[0].isdigit()]
    if not spots:
        return None
    m = rng.choice(spots)
    value = float(m.group().replace(",", ""))
    new = value + rng.choice((1, 2, 5, 10)) if rng.random() < 0.5 else value * rng.choice((2, 3, 10))
    return _replace(text, m, f"{new:g}")


def negate(text: str, rng: random.Random) -> str | None:
    low = text.lower()
    options = [(a, b) for a, b in _NEGATE if f" {a}" in f" {low}"]
    if not options:
        return None
    a, b = rng.choice(options)
    i = f" {low}".index(f" {a}")
    out = text[:i] + b + text[i + len(a) :]
    return out[0].upper() + out[1:] if i == 0 else out


def swap_roles(text: str, rng: random.Random) -> str | None:
    """Swap two different content words (names, objects): "Alice paid Bob" -> "Bob paid Alice"."""
    spots = [m for m in _tokens(text) if _content(m.group())]
    pairs = [(a, b) for i, a in enumerate(spots) for b in spots[i + 1 :] if a.group().lower() != b.group().lower()]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    return text[: a.start()] + b.group() + text[a.end() : b.start()] + a.group() + text[b.end() :]


def replace_word(text: str, rng: random.Random, vocabulary: Sequence[str]) -> str | None:
    """Replace one content word with a content word taken from other questions (quinoa -> rice)."""
    spots = [m for m in _tokens(text) if _content(m.group()) and m.group().lower() not in _UNIT_FAMILY]
    words = [w for w in vocabulary if _content(w)]
    if not spots or not words:
        return None
    m = rng.choice(spots)
    new = rng.choice(words)
    return None if new.lower() == m.group().lower() else _replace(text, m, new)


REWRITES: dict[str, Callable[[str, random.Random], str | None]] = {
    "direction": swap_direction,
    "terms": swap_term,
    "units": swap_unit,
    "numbers": change_number,
    "negation": negate,
    "roles": swap_roles,
}


def near_misses(text: str, rng: random.Random, vocabulary: Sequence[str] = ()) -> list[NearMiss]:
    """Every rewrite that applies to `text` (at most one of each kind), and one word replacement."""
    out = [NearMiss(new, kind) for kind, f in REWRITES.items() if (new := f(text, rng)) and new != text]
    if vocabulary and (new := replace_word(text, rng, vocabulary)):
        out.append(NearMiss(new, "word"))
    return out
