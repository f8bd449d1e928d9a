"""The content gate: vetoes a semantic-cache candidate whose question differs in a way embeddings blur.

Sentence embeddings put "rent for 2 rooms" next to "rent for 3 rooms", "Alice paid Bob" next to "Bob paid
Alice" and "my lease" next to "my sister's lease". A cached answer to one is a wrong answer to the other,
so before a near neighbour is served, both questions are reduced to their `Facts` (numbers, dates, units,
named entities, negations, the persons they are about) and any difference vetoes the hit. The extraction
is deliberately lexical and cheap (~50 µs a question): a veto costs one generation, a false hit costs a
wrong answer, so the gate errs toward vetoing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[$€£¥%°]|\d+(?:[.,:/-]\d+)*(?:st|nd|rd|th)?|[^\W\d_]+(?:['’][^\W\d_]+)*['’]?", re.UNICODE)
_SENTENCE_END = re.compile(r"[.?!:;]\s+|\n")

NUMBER_WORDS = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
    "dozen": 12,
    "half": 0.5,
    "quarter": 0.25,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "single": 1,
    "once": 1,
    "thrice": 3,
    "couple": 2,
    "pair": 2,
}
MONTHS = {
    "january": "jan",
    "jan": "jan",
    "february": "feb",
    "feb": "feb",
    "march": "mar",
    "april": "apr",
    "apr": "apr",
    "june": "jun",
    "july": "jul",
    "august": "aug",
    "aug": "aug",
    "september": "sep",
    "sept": "sep",
    "sep": "sep",
    "october": "oct",
    "oct": "oct",
    "november": "nov",
    "nov": "nov",
    "december": "dec",
    "dec": "dec",
}
# "may" and "march" are verbs too: they count as months only when capitalised mid-sentence or next to a number
AMBIGUOUS_MONTHS = {"may": "may", "mar": "mar", "march": "mar"}
DAYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "weekday": "weekday",
    "weekend": "weekend",
    "weekends": "weekend",
    "today": "today",
    "tonight": "today",
    "tomorrow": "tomorrow",
    "yesterday": "yesterday",
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "night": "night",
    "spring": "spring",
    "summer": "summer",
    "autumn": "autumn",
    "winter": "winter",
    "christmas": "christmas",
    "easter": "easter",
}
RELATIVE = {"last", "next", "this", "previous", "coming", "past", "ago", "before", "after", "since", "until"}
PERIODS = {"day", "week", "month", "year", "decade", "century", "quarter", "hour", "minute", "season"}
UNITS = {
    "km": "km",
    "kms": "km",
    "kilometer": "km",
    "kilometers": "km",
    "kilometre": "km",
    "kilometres": "km",
    "mi": "mile",
    "mile": "mile",
    "miles": "mile",
    "m": "m",
    "meter": "m",
    "meters": "m",
    "metre": "m",
    "metres": "m",
    "cm": "cm",
    "centimeter": "cm",
    "centimeters": "cm",
    "mm": "mm",
    "millimeter": "mm",
    "ft": "ft",
    "feet": "ft",
    "foot": "ft",
    "inch": "in",
    "inches": "in",
    "yard": "yd",
    "yards": "yd",
    "kg": "kg",
    "kgs": "kg",
    "kilo": "kg",
    "kilos": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "mg": "mg",
    "milligram": "mg",
    "milligrams": "mg",
    "lb": "lb",
    "lbs": "lb",
    "pound": "lb",
    "pounds": "lb",
    "oz": "oz",
    "ounce": "oz",
    "ounces": "oz",
    "ton": "t",
    "tons": "t",
    "tonne": "t",
    "tonnes": "t",
    "stone": "st",
    "l": "l",
    "liter": "l",
    "liters": "l",
    "litre": "l",
    "litres": "l",
    "ml": "ml",
    "milliliter": "ml",
    "milliliters": "ml",
    "millilitre": "ml",
    "millilitres": "ml",
    "gallon": "gal",
    "gallons": "gal",
    "cup": "cup",
    "cups": "cup",
    "tablespoon": "tbsp",
    "tablespoons": "tbsp",
    "tbsp": "tbsp",
    "teaspoon": "tsp",
    "teaspoons": "tsp",
    "tsp": "tsp",
    "°": "deg",
    "degree": "deg",
    "degrees": "deg",
    "celsius": "c",
    "fahrenheit": "f",
    "kelvin": "k",
    "%": "pct",
    "percent": "pct",
    "percentage": "pct",
    "$": "usd",
    "usd": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "bucks": "usd",
    "€": "eur",
    "eur": "eur",
    "euro": "eur",
    "euros": "eur",
    "£": "gbp",
    "gbp": "gbp",
    "sterling": "gbp",
    "¥": "jpy",
    "yen": "jpy",
    "yuan": "cny",
    "rupee": "inr",
    "rupees": "inr",
    "rs": "inr",
    "inr": "inr",
    "lakh": "lakh",
    "lakhs": "lakh",
    "crore": "crore",
    "crores": "crore",
    "second": "s",
    "seconds": "s",
    "sec": "s",
    "secs": "s",
    "minute": "min",
    "minutes": "min",
    "mins": "min",
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "hrs": "h",
    "day": "day",
    "days": "day",
    "daily": "day",
    "week": "week",
    "weeks": "week",
    "weekly": "week",
    "month": "month",
    "months": "month",
    "monthly": "month",
    "year": "year",
    "years": "year",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
    "decade": "decade",
    "decades": "decade",
    "kb": "kb",
    "mb": "mb",
    "gb": "gb",
    "tb": "tb",
    "mbps": "mbps",
    "gbps": "gbps",
    "mph": "mph",
    "kph": "kph",
    "kmh": "kph",
    "w": "w",
    "watt": "w",
    "watts": "w",
    "kw": "kw",
    "kwh": "kwh",
    "v": "v",
    "volt": "v",
    "volts": "v",
    "mah": "mah",
    "hz": "hz",
    "ghz": "ghz",
    "mhz": "mhz",
    "px": "px",
    "dpi": "dpi",
    "bpm": "bpm",
    "calorie": "kcal",
    "calories": "kcal",
    "kcal": "kcal",
    "mmol": "mmol",
    "mg/dl": "mg/dl",
    "acre": "acre",
    "acres": "acre",
    "hectare": "ha",
    "hectares": "ha",
    "sqft": "sqft",
}
NEGATIONS = {
    "not",
    "no",
    "never",
    "none",
    "nobody",
    "nothing",
    "neither",
    "nor",
    "nowhere",
    "without",
    "cannot",
    "can't",
    "cant",
    "won't",
    "wont",
    "don't",
    "dont",
    "doesn't",
    "doesnt",
    "didn't",
    "didnt",
    "isn't",
    "isnt",
    "aren't",
    "arent",
    "wasn't",
    "wasnt",
    "weren't",
    "werent",
    "shouldn't",
    "shouldnt",
    "wouldn't",
    "wouldnt",
    "couldn't",
    "couldnt",
    "haven't",
    "havent",
    "hasn't",
    "hasnt",
    "hadn't",
    "hadnt",
    "mustn't",
    "needn't",
    "ain't",
    "unable",
    "stop",
    "stopped",
    "quit",
    "avoid",
    "except",
    "lack",
    "lacks",
    "fail",
    "fails",
    "failed",
}
PRONOUN_PERSON = {
    "my": "1st",
    "mine": "1st",
    "our": "1st",
    "ours": "1st",
    "your": "2nd",
    "yours": "2nd",
    "he": "he",
    "him": "he",
    "his": "he",
    "himself": "he",
    "she": "she",
    "her": "she",
    "hers": "she",
    "herself": "she",
    "they": "they",
    "them": "they",
    "their": "they",
    "theirs": "they",
    "themselves": "they",
}
RELATIONS = {
    "mother",
    "mom",
    "mum",
    "mommy",
    "father",
    "dad",
    "daddy",
    "parent",
    "parents",
    "sister",
    "brother",
    "sibling",
    "siblings",
    "wife",
    "husband",
    "spouse",
    "partner",
    "son",
    "daughter",
    "child",
    "children",
    "kid",
    "kids",
    "baby",
    "friend",
    "friends",
    "boyfriend",
    "girlfriend",
    "fiance",
    "fiancee",
    "boss",
    "manager",
    "colleague",
    "coworker",
    "neighbor",
    "neighbour",
    "landlord",
    "landlady",
    "tenant",
    "roommate",
    "flatmate",
    "uncle",
    "aunt",
    "cousin",
    "niece",
    "nephew",
    "grandmother",
    "grandfather",
    "grandma",
    "grandpa",
    "grandparents",
    "granddaughter",
    "grandson",
    "stepmother",
    "stepfather",
    "ex",
    "doctor",
    "lawyer",
    "teacher",
    "employer",
    "employee",
    "client",
    "customer",
    "dog",
    "cat",
    "pet",
}
# Contractions ending in 's that are not possessives
NOT_POSSESSIVE = {
    "it's",
    "let's",
    "that's",
    "what's",
    "there's",
    "here's",
    "who's",
    "he's",
    "she's",
    "where's",
    "how's",
    "when's",
    "why's",
    "one's",
    "everyone's",
    "someone's",
    "somebody's",
}
# Words that are capitalised at the start of a sentence (or in Title Case) but name nothing
COMMON = set(
    """a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each even ever every few for from
further get gets getting give go goes going good got had has have having he her here hers him his how i if
in into is it its just know let like make many may me might more most much must my near need new no nor not
now of off on once one only or other our out over own please same say she should so some such tell than
that the their them then there these they this those through to too under until up us use very was we
well were what when where which while who whom whose why will with would yes yet you your best better
way ways difference different possible important really actually still already find help explain describe
write list show give tell compare define name recommend suggest create want using used does whats hows
whys thing things people person someone anyone something anything everything time good bad right wrong
first last next ok okay hi hello hey thanks thank dear sir madam mr mrs ms dr i'd i'm i've i'll""".split()
)


@dataclass(frozen=True)
class Facts:
    """What the gate compares: everything a near-duplicate may not change."""

    numbers: tuple[str, ...]  # sorted multiset, normalised ("1,000" -> "1000", "ten" -> "10")
    dates: frozenset[str]
    units: frozenset[str]
    entities: tuple[str, ...]  # lower-cased, in order of appearance
    negations: int
    persons: frozenset[str]
    words: frozenset[str]  # every lower-cased word, to tell "absent" from "written in lower case"


@dataclass(frozen=True)
class Check:
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"pass": self.passed, "detail": self.detail}


def _number(tok: str) -> str | None:
    core = re.sub(r"(st|nd|rd|th)$", "", tok)
    if not core[:1].isdigit():
        return None
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", core):
        core = core.replace(",", "")
    try:
        value = float(core)
    except ValueError:
        return core  # dates, versions, ranges, phone numbers: compared as written
    return f"{value:g}"


def _starts(text: str) -> set[int]:
    """Character offsets where a sentence starts (capitals there are not evidence of a name)."""
    return {0} | {m.end() for m in _SENTENCE_END.finditer(text)}


def _is_entity(tok: str, at_start: bool, title_case: bool) -> bool:
    low = tok.lower()
    if low in COMMON or low in NUMBER_WORDS or low in PRONOUN_PERSON or len(tok) < 2:
        return False
    mixed = any(c.isupper() for c in tok[1:]) and any(c.islower() for c in tok)  # iPhone, WhatsApp, McDonald
    acronym = len(tok) >= 2 and tok.isupper()
    if mixed or acronym:
        return True
    if not tok[0].isupper():
        return False
    # A capital at a sentence start or in an all-Title-Case question is weak evidence: keep the word only
    # if it is not an everyday word (those are in COMMON); rare words are names often enough.
    return not (at_start or title_case) or low not in COMMON


def facts(text: str) -> Facts:
    starts = _starts(text)
    matches = list(_TOKEN.finditer(text))
    alpha = [m.group() for m in matches if m.group()[0].isalpha()]
    title_case = len(alpha) >= 4 and sum(t[0].isupper() for t in alpha) >= 0.6 * len(alpha)
    numbers: list[str] = []
    dates: set[str] = set()
    units: set[str] = set()
    entities: list[str] = []
    persons: set[str] = set()
    negations = 0
    words: set[str] = set()
    prev = ""
    for i, m in enumerate(matches):
        tok = m.group()
        low = tok.lower().replace("’", "'")
        nxt = matches[i + 1].group().lower() if i + 1 < len(matches) else ""
        words.add(low.rstrip("'").removesuffix("'s"))
        if (n := _number(low)) is not None:
            numbers.append(n)
            if re.fullmatch(r"\d+(st|nd|rd|th)", low) is None and nxt in MONTHS:
                dates.add(f"{n} {MONTHS[nxt]}")
        elif low in NUMBER_WORDS:
            numbers.append(f"{NUMBER_WORDS[low]:g}")
        if low in MONTHS and low not in AMBIGUOUS_MONTHS:
            dates.add(MONTHS[low])
        elif low in AMBIGUOUS_MONTHS and (
            (tok[0].isupper() and m.start() not in starts) or _number(prev) or _number(nxt)
        ):
            dates.add(AMBIGUOUS_MONTHS[low])
        if low in DAYS:
            dates.add(DAYS[low])
        if prev in RELATIVE and low in PERIODS | set(UNITS):
            dates.add(f"{prev} {UNITS.get(low, low)}")
        if low in UNITS:
            units.add(UNITS[low])
        if low in NEGATIONS or low.endswith("n't"):
            negations += 1
        if low in PRONOUN_PERSON:
            persons.add(PRONOUN_PERSON[low])
        if low.endswith(("'s", "s'")) and low not in NOT_POSSESSIVE and len(low) > 3:
            persons.add(low.removesuffix("'s").rstrip("'"))
        if low in RELATIONS or low.rstrip("s") in RELATIONS:
            persons.add(low.rstrip("s") if low.rstrip("s") in RELATIONS else low)
        if tok[0].isalpha() and _is_entity(
            tok.rstrip("'’").removesuffix("'s").removesuffix("’s"), m.start() in starts, title_case
        ):
            entities.append(low.rstrip("'").removesuffix("'s"))
        prev = low
    return Facts(
        tuple(sorted(numbers)),
        frozenset(dates),
        frozenset(units),
        tuple(entities),
        negations,
        frozenset(persons),
        frozenset(words),
    )


# Constructions in which the order of two names does not change the question ("A or B", "A vs B")
_SYMMETRIC = {"or", "and", "vs", "versus", "v", "between", "with", "&", "nor"}


def _mentions(word: str, words: frozenset[str]) -> bool:
    """`word` occurs in `words`, allowing a plural s either way ("Fees" / "fee", "IITians" / "IITian")."""
    return word in words or word.removesuffix("s") in words or f"{word}s" in words


def _entities_check(a: Facts, b: Facts, text_a: str, text_b: str) -> Check:
    only_a = [e for e in dict.fromkeys(a.entities) if not _mentions(e, b.words)]
    only_b = [e for e in dict.fromkeys(b.entities) if not _mentions(e, a.words)]
    if only_a or only_b:
        return Check(False, f"names differ: {only_a or '-'} vs {only_b or '-'}")
    shared = [e for e in dict.fromkeys(a.entities) if e in b.entities]
    if len(shared) >= 2:
        order_a = [e for e in a.entities if e in shared]
        order_b = [e for e in b.entities if e in shared]
        if order_a != order_b and not (_symmetric(text_a) or _symmetric(text_b)):
            return Check(False, f"names swapped: {order_a} vs {order_b}")
    return Check(True)


def _symmetric(text: str) -> bool:
    return any(w in _SYMMETRIC for w in re.findall(r"[\w&]+", text.lower()))


def _set_check(name: str, a: object, b: object) -> Check:
    if a == b:
        return Check(True)

    def show(x: object) -> str:
        return ", ".join(sorted(map(str, x))) if isinstance(x, frozenset | tuple) else str(x)

    return Check(False, f"{name} differ: [{show(a)}] vs [{show(b)}]")


# Related-but-different terms: a question that swaps one member of a set for another asks something else
# ("radius" for "diameter"), yet embeddings place the two side by side. Each line is one set; a word's
# inflections are listed with it (word/variant/...).
CONTRAST_SETS = """
radius/radii diameter/diameters circumference/circumferences
area/areas perimeter/perimeters volume/volumes
teaspoon/teaspoons/tsp tablespoon/tablespoons/tbsp cup/cups
celsius/centigrade fahrenheit kelvin
buy/buying/bought/buys sell/selling/sold/sells
lend/lending/lent borrow/borrowing/borrowed
before after
min/minimum/minimal max/maximum/maximal
minimise/minimize maximise/maximize
increase/increases/increasing/raise decrease/decreases/decreasing/lower/reduce
import/importing/imports export/exporting/exports
upload/uploading download/downloading
debit credit
input/inputs output/outputs
north/northern south/southern east/eastern west/western
left right
encrypt/encryption/encrypting decrypt/decryption/decrypting
compress/compression decompress/decompression
mean/average median mode
sine/sin cosine/cos tangent/tan
add/addition/plus subtract/subtraction/minus multiply/multiplication/times divide/division
sum product difference quotient
largest/biggest smallest/tiniest
highest/tallest lowest/shortest
longest shortest
more less/fewer
better worse
best worst
pros/advantages/advantage cons/disadvantages/disadvantage
enable/enabling/turn-on disable/disabling/turn-off
install/installing uninstall/uninstalling
win/winning/won lose/losing/lost
ascending descending
uppercase/upper lowercase/lower
odd even
prime composite
hot cold
open/opening close/closing
start/starting/begin stop/stopping/end
arrival/arrive/arriving departure/depart/departing
income/revenue expense/expenses/cost
profit loss
sunrise sunset
inhale exhale
push pull
husband wife
boy/boys girl/girls
male/males female/females
morning evening
latitude longitude
numerator denominator
acid base
asset/assets liability/liabilities
""".strip().splitlines()


def _contrast_index() -> dict[str, tuple[int, str]]:
    index: dict[str, tuple[int, str]] = {}
    for i, line in enumerate(CONTRAST_SETS):
        for member in line.split():
            forms = member.split("/")
            for form in forms:
                index[form.replace("-", " ")] = (i, forms[0])
    return index


_CONTRAST = _contrast_index()
_CONTRAST_PHRASES = sorted((w for w in _CONTRAST if " " in w), key=len, reverse=True)


def _contrast_terms(text: str) -> dict[int, frozenset[str]]:
    """For each contrast set the question touches, which of its members it names."""
    low = text.lower()
    found: dict[int, set[str]] = {}
    for phrase in _CONTRAST_PHRASES:
        if phrase in low:
            group, canon = _CONTRAST[phrase]
            found.setdefault(group, set()).add(canon)
    for w in re.findall(r"[a-z]+", low):
        hit = _CONTRAST.get(w) or (_CONTRAST.get(w[:-1]) if w.endswith("s") else None)
        if hit:
            found.setdefault(hit[0], set()).add(hit[1])
    return {g: frozenset(m) for g, m in found.items()}


def _contrast_check(text_a: str, text_b: str) -> Check:
    """Both questions use a contrast set but name different members of it ("radius" vs "diameter")."""
    a, b = _contrast_terms(text_a), _contrast_terms(text_b)
    differ = [(sorted(a[g]), sorted(b[g])) for g in sorted(a.keys() & b.keys()) if a[g] != b[g]]
    if differ:
        return Check(False, "; ".join(f"{'/'.join(x)} vs {'/'.join(y)}" for x, y in differ))
    return Check(True)


# Words that give a question its direction: "5 km to miles" and "5 miles to km" share every word, but
# the two sides of "to" are swapped. Symmetric words ("and", "or", "vs") are not pivots: "A or B" = "B or A".
DIRECTION_WORDS = frozenset(
    {
        "to",
        "in",
        "into",
        "from",
        "than",
        "over",
        "per",
        "for",
        "against",
        "toward",
        "towards",
        "onto",
        "by",
        "as",
        "of",
        "at",
        "on",
    }
)
_FUNCTION_WORDS = (COMMON - DIRECTION_WORDS) | {"s", "t", "convert", "conversion", "much", "many", "is"}
_COMPOUND_UNITS = [
    (re.compile(r"\bkm\s*/\s*h(?:r)?\b|\bkm\s+per\s+hour\b|\bkilometers?\s+per\s+hour\b"), "kph"),
    (re.compile(r"\bmiles?\s+per\s+hour\b"), "mph"),
    (re.compile(r"\bm\s*/\s*s\b"), "mps"),
]


def _order_tokens(text: str) -> list[str]:
    """Lower-cased words in reading order with numbers and units normalised ("5 kilometres" -> 5, km)."""
    low = text.lower().replace("’", "'")
    for pattern, unit in _COMPOUND_UNITS:
        low = pattern.sub(unit, low)
    out = []
    for m in _TOKEN.finditer(low):
        tok = m.group().rstrip("'").removesuffix("'s")
        if (n := _number(tok)) is not None:
            out.append(n)
        elif tok in NUMBER_WORDS and tok not in ("second", "first", "once", "single", "pair", "couple"):
            out.append(f"{NUMBER_WORDS[tok]:g}")
        else:
            out.append(UNITS.get(tok, tok))
    return out


def _coordinated(tokens: list[str], pos: dict[str, int], x: str, y: str) -> bool:
    """A symmetric word ("or", "vs", "and") joins x and y: "A or B" asks what "B or A" asks."""
    lo, hi = sorted((pos[x], pos[y]))
    return any(t in _SYMMETRIC for t in tokens[lo + 1 : hi])


PIVOT_REACH = 3  # x and y within this many words of the pivot: "5 km to miles", not two far-apart clauses


def _flanked(pos: dict[str, int], p: str, x: str, y: str) -> bool:
    lo, hi = sorted((pos[x], pos[y]))
    return lo < pos[p] < hi and pos[p] - lo <= PIVOT_REACH and hi - pos[p] <= PIVOT_REACH


def _order_check(text_a: str, text_b: str) -> Check:
    """Two shared content words on opposite sides of a shared pivot (a direction word or another shared
    content word) in swapped order: "km to miles" / "miles to km", "X beat Y" / "Y beat X"."""
    ta, tb = _order_tokens(text_a), _order_tokens(text_b)
    pos_a = {t: i for i, t in reversed(list(enumerate(ta)))}  # first occurrence
    pos_b = {t: i for i, t in reversed(list(enumerate(tb)))}
    shared = [t for t in pos_a if t in pos_b]
    content = [t for t in shared if t not in _FUNCTION_WORDS and t not in DIRECTION_WORDS and t not in _SYMMETRIC]
    pivots = [t for t in shared if (t in DIRECTION_WORDS or t in content)]
    for i, x in enumerate(content):
        for y in content[i + 1 :]:
            if (
                (pos_a[x] < pos_a[y]) == (pos_b[x] < pos_b[y])
                or _coordinated(ta, pos_a, x, y)
                or _coordinated(tb, pos_b, x, y)
            ):
                continue
            for p in pivots:
                if p in (x, y):
                    continue
                if _flanked(pos_a, p, x, y) and _flanked(pos_b, p, x, y):
                    first, second = (x, y) if pos_a[x] < pos_a[y] else (y, x)
                    return Check(False, f"order swapped around '{p}': {first}…{second} vs {second}…{first}")
    return Check(True)


_PRONOUN_CLASSES = frozenset(PRONOUN_PERSON.values())
_SPEAKERS = frozenset({"1st", "2nd"})
_THIRD_PERSONS = _PRONOUN_CLASSES - _SPEAKERS


def _persons_check(a: Facts, b: Facts) -> Check:
    """Third persons must match, and a possessor or relation ("sister", "John's") must be named in both;
    "my" against "your" differs, but "my IQ" against "IQ" asks the same (the asker is implied)."""
    speakers_differ = bool(a.persons & _SPEAKERS) and bool(b.persons & _SPEAKERS)

    def extra(x: Facts, y: Facts) -> list[str]:
        return sorted(
            p
            for p in x.persons - y.persons
            if (p in _SPEAKERS and speakers_differ)
            or p in _THIRD_PERSONS
            or (p not in _PRONOUN_CLASSES and not _mentions(p, y.words))
        )

    only_a, only_b = extra(a, b), extra(b, a)
    if only_a or only_b:
        return Check(False, f"persons differ: {only_a or '-'} vs {only_b or '-'}")
    return Check(True)


GATES = ("numbers", "dates", "units", "entities", "negation", "persons", "order", "terms")


def compare(text_a: str, text_b: str, fa: Facts | None = None, fb: Facts | None = None) -> dict[str, Check]:
    """One `Check` per gate; the candidate may be served only if every check passed."""
    a = fa or facts(text_a)
    b = fb or facts(text_b)
    return {
        "numbers": _set_check("numbers", a.numbers, b.numbers),
        "dates": _set_check("dates", a.dates, b.dates),
        "units": _set_check("units", a.units, b.units),
        "entities": _entities_check(a, b, text_a, text_b),
        "negation": _set_check("negations", a.negations, b.negations),
        "persons": _persons_check(a, b),
        "order": _order_check(text_a, text_b),
        "terms": _contrast_check(text_a, text_b),
    }


def passes(text_a: str, text_b: str) -> bool:
    return all(c.passed for c in compare(text_a, text_b).values())
