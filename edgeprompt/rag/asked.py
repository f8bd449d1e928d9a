"""What a question asks for: the kind of value (a time, an amount, a code, a person…) and the attribute
words it names ("check-out time", "tracking number", "salary").

Near misses fail on exactly this: the notes mention the hotel but not its check-out time, the battery's
price but not its tracking number. The answerability judge (edgeprompt.rag.answerable) checks that a
sentence holds both the asked attribute and a value of the asked kind; this module only reads the question
and finds values in a sentence, with regular expressions (no model, microseconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgeprompt.rag.retrieve import STOPWORDS

# value kinds, each with the pattern of a value of that kind in a sentence
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
VALUE = {
    "time": re.compile(r"\b\d{1,2}[:.h]\d{2}\b|\b\d{1,2}\s?(?:a\.?m\.?|p\.?m\.?)(?!\w)|\b(?:noon|midnight)\b", re.I),
    "date": re.compile(
        rf"\b\d{{4}}-\d{{2}}(?:-\d{{2}})?\b|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b|"
        rf"\b{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?\b|"
        rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:\s+\d{{4}})?|"
        # a year, unless it is an amount or a quantity ("1200 euros", "$1500", "1800 km")
        rf"(?<![$€£])\b(?:1[0-9]|20)\d{{2}}s?\b(?!\s?(?:[$€£%]|euros?\b|dollars?\b|pounds?\b|usd\b|eur\b|gbp\b|"
        r"kg\b|km\b|miles?\b|people\b|units?\b|words?\b))|"
        rf"\b{_DAY}\b|\b\d{{1,2}}(?:st|nd|rd|th)\b|"
        # a day in a cycle: "the first day of each month", "the last working day of the quarter", "the 1st of the month"
        r"\b(?:(?:first|second|third|fourth|fifth|last|\d{1,2}(?:st|nd|rd|th))\s+(?:(?:working|business|week)\s*)?day"
        r"|first|last|\d{1,2}(?:st|nd|rd|th))\s+of\s+(?:each|every|the|this|next)\s+(?:month|week|year|quarter)\b|"
        r"\b(?:\d+|a|one|two|three)\s+(?:days?|weeks?|months?|years?)\s+(?:ago|later|before|after)\b",
        re.I,
    ),
    "number": re.compile(
        r"(?<![\w])[$€£¥]?\d[\d,]*(?:\.\d+)?\b|\b(?:one|two|three|four|five|six|seven|eight|nine|"
        r"ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|"
        r"half|several|few)\b",
        re.I,
    ),
    "code": re.compile(
        r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9][A-Z0-9-]{2,}\b|\b\d[\d -]{5,}\d\b|"
        r"\b[A-Z]{2,}-\d+\b"
    ),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "phone": re.compile(
        r"(?:\+?\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b|\bext(?:ension|\.)?\s*\d{2,}\b", re.I
    ),
    "name": re.compile(
        r"\b(?:[A-Z][\w'’.-]*|de|da|du|van|von|of|the|al)(?:\s+(?:[A-Z][\w'’.-]*|de|da|du|van|"
        r"von|of|the|al))*\b"
    ),
}
VALUE["place"] = VALUE["name"]  # a place is a capitalised name too ("in Lisbon", "at Harbor View")
# an amount is written in digits, often bare in tables and CSV ("Rent,1850.00"); "two hires" is no salary
VALUE["money"] = re.compile(r"(?<![\w])[$€£¥]?\d[\d,]*(?:\.\d+)?\b")
VALUE["percent"] = re.compile(r"\d+(?:\.\d+)?\s?(?:%|percent|per cent)", re.I)
VALUE["duration"] = re.compile(
    r"\b(?:\d[\d,.]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"twenty|thirty|half)[\s-]+(?:an?\s+)?(?:seconds?|minutes?|min|hours?|h|days?|"
    r"weeks?|months?|years?|decades?|centuries|century)\b",
    re.I,
)

# attribute words that say which kind is asked for ("check-out time" -> time, "policy number" -> code)
_KIND_OF_WORD = {
    "time": "time",
    "hour": "time",
    "date": "date",
    "day": "date",
    "year": "date",
    "deadline": "date",
    "birthday": "date",
    "month": "date",
    "century": "date",
    "decade": "date",
    "number": "code",
    "id": "code",
    "code": "code",
    "reference": "code",
    "vin": "code",
    "pin": "code",
    "serial": "code",
    "confirmation": "code",
    "tracking": "code",
    "password": "code",
    "passcode": "code",
    "phone": "phone",
    "telephone": "phone",
    "extension": "phone",
    "fax": "phone",
    "email": "email",
    "e-mail": "email",
    "salary": "money",
    "rent": "money",
    "price": "money",
    "cost": "money",
    "fee": "money",
    "deposit": "money",
    "premium": "money",
    "budget": "money",
    "amount": "money",
    "bill": "money",
    "charge": "money",
    "deductible": "money",
    "fine": "money",
    "pay": "money",
    "wage": "money",
    "income": "money",
    "revenue": "money",
    "tax": "money",
    "tuition": "money",
    "percentage": "percent",
    "percent": "percent",
    "rate": "number",
    "size": "number",
    "temperature": "number",
    "weight": "number",
    "height": "number",
    "length": "number",
    "distance": "number",
    "population": "number",
    "age": "number",
    "mileage": "number",
    "pressure": "number",
    "speed": "number",
    "capacity": "number",
    "score": "number",
}
# a "number" that names an amount, not a code ("the number of people")
_COUNT_PHRASE = re.compile(r"\bnumber of\b", re.I)
_WH = re.compile(
    r"^\s*(?:and\s+|so\s+|then\s+)?(?:(?:in|on|at|from|to|by|for|with|through|during|of|under|into|after|before)\s+)?(what|which|who|whom|whose|when|where|why|how(?:\s+(?:much|many|long|"
    r"old|far|big|large|often|soon|early|late|tall|high|heavy))?)\b",
    re.I,
)
_AUX = {
    "is",
    "was",
    "are",
    "were",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "can",
    "could",
    "will",
    "would",
    "should",
    "shall",
    "may",
    "might",
    "must",
    "be",
    "been",
    "being",
    "the",
    "a",
    "an",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "its",
    "this",
    "that",
    "these",
    "those",
    "kind",
    "type",
    "sort",
    "exact",
    "name",
}
_STOP_AFTER = {
    "of",
    "for",
    "at",
    "in",
    "on",
    "to",
    "from",
    "with",
    "by",
    "about",
    "after",
    "before",
    "during",
    "under",
    "over",
    "into",
    "per",
    "if",
    "when",
    "that",
    "which",
    "who",
    "and",
    "or",
    "than",
    *(_AUX - {"name", "kind", "type", "sort", "exact"}),
}
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")


@dataclass(frozen=True)
class Asked:
    kind: str  # time, date, number, money, percent, duration, code, email, phone, name, place, other
    focus: tuple[str, ...]  # the attribute words, lower case ("check-out", "time")
    wh: str  # the question word, lower case ("what", "how many"; "" when none)


def stem(word: str) -> str:
    """A word as the judge compares it: lower case, no hyphen or apostrophe, cut to 6 letters (a cheap
    stemmer, the one edgeprompt.rag.extract uses: deductible ~ deduct)."""
    return re.sub(r"['’-]", "", word.lower())[:6]


def asked(question: str) -> Asked:
    """The kind and the attribute words of the question ("What is the check-out time at the hotel?" ->
    time, ("check-out", "time"))."""
    m = _WH.search(question)
    wh = " ".join(m.group(1).lower().split()) if m else ""
    rest = question[m.end() :] if m else question
    words = [w.lower() for w in _WORD.findall(rest)]
    focus: list[str] = []
    for w in words:  # the noun phrase after the question word, up to a preposition or verb
        if not focus and (w in _AUX or w == "of"):  # "what is the", "what kind of"
            continue
        if w in _STOP_AFTER:
            break
        focus.append(w)
        if len(focus) == 4:
            break
    if wh in ("who", "whom", "whose", "where", "why", "when") or wh.startswith("how"):
        focus = [w for w in focus if w not in STOPWORDS][:2] if wh.startswith("how") else []
    return Asked(_kind(wh, focus, question), tuple(focus), wh)


def _kind(wh: str, focus: list[str], question: str) -> str:
    if wh == "when":
        return "date"
    if wh in ("who", "whom", "whose"):
        return "name"
    if wh == "where":
        return "place"
    if wh == "how much":
        return "money" if not focus or _KIND_OF_WORD.get(focus[-1].rstrip("s")) != "time" else "duration"
    if wh in ("how long", "how often", "how soon"):
        return "duration" if wh == "how long" else "number"
    if wh.startswith("how ") and wh != "how":
        return "number"
    for w in reversed(focus):  # the head noun is last ("check-out time", "policy number")
        kind = _KIND_OF_WORD.get(w) or _KIND_OF_WORD.get(w.rstrip("s"))
        if kind == "code" and focus[0] == "number" and _COUNT_PHRASE.search(question):
            return "number"
        if kind:
            return kind
    return "other"


def values(kind: str, sentence: str) -> list[tuple[int, int]]:
    """Where values of `kind` are in the sentence (character spans); every place for kind "other"."""
    if kind == "other":
        return []
    spans = [m.span() for m in VALUE[kind].finditer(sentence) if m.group().strip()]
    if kind == "code":  # a date is not a code
        spans = [(a, b) for a, b in spans if not VALUE["date"].fullmatch(sentence[a:b])]
    if kind in ("name", "place"):  # a name is not the sentence's first word alone, nor a month or weekday
        spans = [
            (a, b)
            for a, b in spans
            if not (a == 0 and " " not in sentence[a:b]) and not VALUE["date"].fullmatch(sentence[a:b])
        ]
    return spans


def has_value(kind: str, sentence: str) -> bool:
    return kind == "other" or bool(values(kind, sentence))


__all__ = ["VALUE", "Asked", "asked", "has_value", "stem", "values"]
