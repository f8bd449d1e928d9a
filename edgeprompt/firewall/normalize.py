"""Stage-1 normalisation: undo the tricks that hide an instruction from a detector.

Only the detectors see this text; the prompt always gets the user's original. `normalize(text)`
returns the folded text (NFKC, invisible and bidi characters gone, homoglyphs folded to Latin,
s p a c e d / d.o.t.t.e.d letters joined, leetspeak folded, lower-cased, accents stripped) plus the
decoded payloads found inside it (base64, hex, URL-encoding, rot13, Unicode tag characters), each
normalised in turn, so that every layer is scanned.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import unquote

# Zero-width, joiners, bidi controls, soft hyphen, word joiners, BOM, Mongolian vowel separator.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufe00-\ufe0f]")
# Unicode tag characters (U+E0000 block) mirror ASCII and render as nothing: "ASCII smuggling".
_TAGS = re.compile("[\U000e0000-\U000e007f]+")

# Cyrillic and Greek letters that look like Latin ones (after NFKC and lower-casing).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "һ": "h",
        "ɡ": "g",
        "ӏ": "l",
        "ο": "o",
        "α": "a",
        "ν": "v",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "κ": "k",
        "ι": "i",
        "ε": "e",
        "χ": "x",
        "β": "b",
        "η": "n",
        "μ": "u",
        "ω": "w",
        "γ": "y",
        "ѵ": "v",
        "ɑ": "a",
        "ı": "i",
        "ʟ": "l",
        "ɪ": "i",
        "ᴏ": "o",
        "ꞵ": "b",
    }
)
_LATIN = re.compile(r"[a-z]")
_CYR_GREEK = re.compile(r"[\u0370-\u03ff\u0400-\u052f]")
_WORD = re.compile(r"[^\W\d_]+|\S+", re.UNICODE)

# Leetspeak inside words that also contain letters (so plain numbers stay numbers).
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_LEET_TOKEN = re.compile(r"(?<![\w@$!])(?=[\w@$!]*[a-z])(?=[\w@$!]*[013457@$!])[a-z013457@$!]{3,}(?![\w@$!])")

# s p a c e d, d.o.t.t.e.d, d-a-s-h-e-d, u_n_d_e_r letters: three or more single letters joined.
_SEP = r"(?: ?[.\-_*·|/+] ?| )"
_SPACED = re.compile(rf"(?<![^\W_])(?:[^\W\d_]{_SEP}){{2,}}[^\W\d_](?![^\W_])")

_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:(?:\\x|0x)?[0-9a-fA-F]{2}[ :]?){8,}")
_URLENC = re.compile(r"(?:%[0-9a-fA-F]{2}){3,}")
_STOPWORDS = frozenset(
    "the and you your to of all is are in that it for this be with not on what me my now "
    "ignore previous instructions say tell".split()
)

MAX_DEPTH = 2
MAX_PAYLOADS = 8


@dataclass(frozen=True)
class Normalized:
    text: str  # folded text the detectors read
    payloads: tuple[str, ...] = ()  # decoded payloads, each already normalised
    transforms: tuple[str, ...] = ()  # which tricks were undone (zero_width, homoglyph, base64, …)
    squashed: str = ""  # letters only, for rules that must survive any separator

    @property
    def variants(self) -> tuple[str, ...]:
        return (self.text, *self.payloads)


@dataclass
class _Acc:
    transforms: list[str] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)

    def note(self, name: str) -> None:
        if name not in self.transforms:
            self.transforms.append(name)


def _fold_homoglyphs(text: str, acc: _Acc) -> str:
    """Fold look-alike letters in mixed-script words, or everywhere when the text is mainly Latin."""
    if not _CYR_GREEK.search(text):
        return text
    latin = len(_LATIN.findall(text))
    other = len(_CYR_GREEK.findall(text))
    if latin > other:
        folded = text.translate(_HOMOGLYPHS)
    else:  # Russian or Greek prose stays as it is; only words mixing scripts are folded
        folded = _WORD.sub(
            lambda m: (
                m.group(0).translate(_HOMOGLYPHS)
                if _LATIN.search(m.group(0)) and _CYR_GREEK.search(m.group(0))
                else m.group(0)
            ),
            text,
        )
    if folded != text:
        acc.note("homoglyph")
    return folded


def _strip_marks(text: str) -> str:
    """Drop combining accents (é → e, й → и) so patterns need one spelling."""
    decomposed = unicodedata.normalize("NFD", text)
    if decomposed.isascii():
        return decomposed
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _join_spaced(text: str, acc: _Acc) -> str:
    def join(m: re.Match[str]) -> str:
        acc.note("spaced")
        run = m.group(0)
        if re.search(r"[.\-_*·|/+]", run):  # d.o.t.t.e.d words: a plain space still separates words
            return " ".join(re.sub(r"[.\-_*·|/+ ]", "", w) for w in re.split(r"(?<=\w) (?=\w)", run))
        return run.replace(" ", "")

    return _SPACED.sub(join, text)


def _fold_leet(text: str, acc: _Acc) -> str:
    def fold(m: re.Match[str]) -> str:
        if "@" in m.group(0) and text[m.end() : m.end() + 1] == ".":
            return m.group(0)  # an e-mail address, not leetspeak
        acc.note("leetspeak")
        return m.group(0).translate(_LEET)

    return _LEET_TOKEN.sub(fold, text)


def _printable_text(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(s) < 6:
        return None
    good = sum(1 for c in s if c.isprintable() or c in "\n\t\r")
    letters = sum(1 for c in s if c.isalpha())
    return s if good >= 0.9 * len(s) and letters >= 0.4 * len(s) else None


def _decode_b64(token: str) -> str | None:
    t = token.rstrip("=")
    if len(t) < 16 or t.isdigit() or (t.isalpha() and (t.islower() or t.isupper())):
        return None  # plain words and numbers are not payloads
    t = t.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(t + "=" * (-len(t) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable_text(raw)


def _decode_hex(token: str) -> str | None:
    digits = re.sub(r"\\x|0x|[ :]", "", token)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _printable_text(bytes.fromhex(digits))
    except ValueError:
        return None


def _stopword_share(text: str) -> float:
    words = re.findall(r"[a-z]+", text.lower())
    return sum(w in _STOPWORDS for w in words) / len(words) if words else 0.0


def _payloads(text: str, acc: _Acc) -> list[tuple[str, str]]:
    """(kind, decoded text) for every encoded layer found in `text`."""
    found: list[tuple[str, str]] = []
    for m in _TAGS.finditer(text):
        s = "".join(chr(ord(c) - 0xE0000) for c in m.group(0) if 0x20 <= ord(c) - 0xE0000 < 0x7F)
        if s.strip():
            found.append(("unicode_tags", s))
    for m in _B64.finditer(text):
        if (b64 := _decode_b64(m.group(0))) is not None:
            found.append(("base64", b64))
    for m in _HEX.finditer(text):
        if (hexed := _decode_hex(m.group(0))) is not None:
            found.append(("hex", hexed))
    if _URLENC.search(text):
        s = unquote(text)
        if s != text:
            found.append(("url_encoding", s))
    letters = re.sub(r"[^a-zA-Z ]", "", text)
    if len(letters) >= 12 and _stopword_share(text) < 0.12:
        rot = codecs.decode(text, "rot13")
        if _stopword_share(rot) >= 0.2:
            found.append(("rot13", rot))
    return found[:MAX_PAYLOADS]


def _fold(text: str, acc: _Acc) -> str:
    if re.search("[\uff01-\uff5e]", text):
        acc.note("fullwidth")
    text = unicodedata.normalize("NFKC", text)
    stripped = _INVISIBLE.sub("", text)
    if stripped != text:
        # a joiner between emoji is ordinary; one inside a word is a trick
        if re.search(r"\w[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]+\w", text) or re.search(
            "[\u202a-\u202e\u2066-\u2069]", text
        ):
            acc.note("zero_width" if not re.search("[\u202a-\u202e\u2066-\u2069]", text) else "bidi")
        text = stripped
    text = _TAGS.sub(" ", text) if _TAGS.search(text) else text
    text = text.lower()
    text = _fold_homoglyphs(text, acc)
    text = _strip_marks(text)
    text = _join_spaced(text, acc)
    text = _fold_leet(text, acc)
    return re.sub(r"[ \t]+", " ", text)


def normalize(text: str, depth: int = 0) -> Normalized:
    """Fold `text` and decode the payloads inside it (up to MAX_DEPTH layers)."""
    acc = _Acc()
    payloads = _payloads(unicodedata.normalize("NFKC", text), acc)
    folded = _fold(text, acc)
    decoded: list[str] = []
    for kind, raw in payloads:
        acc.note(kind)
        if depth < MAX_DEPTH:
            inner = normalize(raw, depth + 1)
            decoded.append(inner.text)
            decoded.extend(inner.payloads)
            for t in inner.transforms:
                acc.note(t)
        else:
            decoded.append(_fold(raw, acc))
    return Normalized(folded, tuple(dict.fromkeys(decoded))[:MAX_PAYLOADS], tuple(acc.transforms), squash(folded))


def squash(text: str) -> str:
    """Letters only: what `squash` rules read, so that no separator, digit or underscore can split a word."""
    return re.sub(r"[^\w]|_|\d", "", text)
