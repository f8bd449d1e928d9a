"""Stage-3 detectors for personal data and secrets in an answer.

Checksum types are validated (payment cards: Luhn and issuer prefix; IBAN: mod-97 and country
length), phone numbers go through `phonenumbers`, and the near misses that look like them (order
numbers, ISBNs, UUIDs, dates, versions) are turned away by shape and by the words around them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Overlapping findings keep the most specific type (a card number also looks like a phone number).
PRIORITY = ("SECRET", "API_KEY", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "EMAIL_ADDRESS", "IP_ADDRESS", "PHONE_NUMBER")


@dataclass(frozen=True)
class Finding:
    type: str
    start: int
    end: int
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"type": self.type, "start": self.start, "end": self.end}
        if self.detail:
            d["detail"] = self.detail
        return d


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+"
    r"[A-Za-z]{2,24}\b"
)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){11,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_BARE = re.compile(r"(?i)\b(ssn|social security( number)?|sozialversicherungsnummer)\b\D{0,12}(\d{9})\b")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}(?::|[0-9A-Fa-f]{1,4})(?:%\w+)?(?![\w:])|"
    r"(?<![\w:])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:])"
)
_PHONE = re.compile(
    r"(?<![\w+/.-])(?:\+|00)?\(?\d[\d ().\-/]{4,22}\d(?:\s?(?:x|ext\.?|#)\s?\d{1,5})?"
    r"(?![\w/]|\.\d|-\d)"
)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(phone|tel|telephone|call(ed|ing)?|mobile|cell|fax|desk|office|whats ?app|sms|text (me|us)|"
    r"messages? (to|at)|reach (me|us)|contact|answering|dial|ring|registered|hotline|landline|numero|"
    r"numéro|téléphone|telefon|handy|teléfono|móvil|telefono|cellulare|телефон|тел|电话|手机|電話)\b|☎|📞"
)
_NOT_PHONE_CONTEXT = re.compile(
    r"(?i)\b(order|invoice|isbn|ref(erence)?|ticket|tracking|account|acct|case|id|serial|sku|po|version|build|"
    r"release|iban|card|zip|postal|postcode|patent|item|part|model|batch|lot|receipt|transaction|confirmation)\b"
    r"(?:\s*(?:number|code|no\.?|nr\.?|num|id|is|was|[#:°-]))*\s*$"
)
# dates (2024-05-17, 17.05.1984, 03/04/2025 and a time after them), year ranges, ZIP+4
_DATE_SHAPE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?:\s|$)|"
    r"^\d{4}-\d{2,4}$|^\d{5}-\d{4}$"
)
_SECRETS = [
    ("API_KEY", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("API_KEY", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b")),
    ("API_KEY", re.compile(r"\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}\b")),
    ("API_KEY", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
    ("API_KEY", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("API_KEY", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("API_KEY", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("API_KEY", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("SECRET", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)")),
]
_ASSIGNED = re.compile(
    r"(?i)\b(api[_-]?key|apikey|secret(?:[_-]?key)?|client[_-]?secret|access[_-]?token|auth[_-]?token|token|password|"
    r"passwd|pwd|passphrase|private[_-]?key)\b[\"']?\s*(?:[:=]|=>|\bis\b)\s*[\"']?([^\s\"',;]{8,})"
)
_DIGIT = re.compile(r"\d")  # any script's digits, as the phone pattern reads them
_PLACEHOLDER = re.compile(
    r"(?i)^(<.*>|\$\{?.*|\*+|x+|\.+|your[_-].*|example.*|changeme|none|null|true|false|"
    r"\[redacted\]|\[[A-Z_]+\])$"
)

_IIN = re.compile(
    r"^(4|5[1-5]|2(2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720)|3[47]|3(0[0-5]|[689])|6(011|5|4[4-9]|2)|"
    r"35|1800|2131|50|5[6-9]|6[0-9])"
)
_IBAN_LENGTHS = {
    "AD": 24,
    "AT": 20,
    "BE": 16,
    "BG": 22,
    "CH": 21,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "EE": 20,
    "ES": 24,
    "FI": 18,
    "FR": 27,
    "GB": 22,
    "GR": 27,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IS": 26,
    "IT": 27,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MT": 31,
    "NL": 18,
    "NO": 15,
    "PL": 28,
    "PT": 25,
    "RO": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "TR": 26,
    "UA": 29,
    "SA": 24,
    "AE": 23,
    "IL": 23,
    "BR": 29,
    "QA": 29,
    "KW": 30,
    "MU": 30,
    "RS": 22,
    "ME": 22,
    "BA": 20,
    "MK": 19,
    "AL": 28,
    "GI": 23,
}
_PHONE_REGIONS = ("US", "GB", "FR", "DE", "IN", "AU")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(raw: str) -> bool:
    s = raw.replace(" ", "").upper()
    want = _IBAN_LENGTHS.get(s[:2])
    if (want is not None and len(s) != want) or not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ibans(text: str) -> list[Finding]:
    """The regex is greedy (it may run into the next word), so try the country's exact length first."""
    out = []
    for m in _IBAN.finditer(text):
        cand = m.group(0)
        want = _IBAN_LENGTHS.get(cand[:2].upper())
        if want is not None:
            n = end = 0
            while end < len(cand) and n < want:
                n += cand[end] != " "
                end += 1
            cand = cand[:end]
        if iban_ok(cand) and (m.start() + len(cand) == len(text) or not text[m.start() + len(cand)].isalnum()):
            out.append(Finding("IBAN_CODE", m.start(), m.start() + len(cand)))
    return out


def _cards(text: str) -> list[Finding]:
    out = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        seps = set(re.sub(r"\d", "", m.group(0)))
        if 12 <= len(digits) <= 19 and len(seps) <= 1 and _IIN.match(digits) and luhn_ok(digits):
            out.append(Finding("CREDIT_CARD", m.start(), m.end()))
    return out


def _ssns(text: str) -> list[Finding]:
    out = []
    for m in _SSN.finditer(text):
        area, group, serial = m.group(1), m.group(3), m.group(4)
        if area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000":
            out.append(Finding("US_SSN", m.start(), m.end()))
    out += [Finding("US_SSN", m.start(3), m.end(3)) for m in _SSN_BARE.finditer(text)]
    return out


def _ips(text: str) -> list[Finding]:
    out: list[Finding] = []
    # cheap prefilters: these regexes cost ~20 µs per window, and most streamed windows have no address
    for m in _IPV4.finditer(text) if text.count(".") >= 3 else ():
        before = text[max(0, m.start() - 12) : m.start()].lower()
        if re.search(r"(version|ver\.?|v|release|build)\s*$", before):
            continue  # v1.2.3.4 is a version, not an address
        try:
            ip = ipaddress.ip_address(m.group(0))
        except ValueError:
            continue
        if not (ip.is_loopback or ip.is_unspecified):
            out.append(Finding("IP_ADDRESS", m.start(), m.end()))
    for m in _IPV6.finditer(text) if text.count(":") >= 2 else ():
        try:
            ip = ipaddress.ip_address(m.group(0).split("%")[0])
        except ValueError:
            continue
        if not (ip.is_loopback or ip.is_unspecified):
            out.append(Finding("IP_ADDRESS", m.start(), m.end()))
    return out


def _phone_valid_somewhere(candidate: str) -> bool:
    import phonenumbers

    regions: tuple[str | None, ...] = (None,) if candidate.startswith(("+", "00")) else _PHONE_REGIONS
    for region in regions:
        try:
            num = phonenumbers.parse(
                candidate.replace("00", "+", 1) if candidate.startswith("00") else candidate, region
            )
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return True
    return False


def _phones(text: str) -> list[Finding]:
    out = []
    for m in _PHONE.finditer(text):
        cand = m.group(0).strip().rstrip(".-/")
        core = re.sub(r"\s*(x|ext\.?|#)\s*\d{1,5}$", "", cand)
        digits = re.sub(r"\D", "", core)
        dotted = (
            bool(re.fullmatch(r"[\d.]+", core))
            and core.count(".") in (2, 3)
            and all(len(g) <= 3 for g in core.split("."))
        )
        single = all(len(g) == 1 for g in re.findall(r"\d+", core))  # "1 2 3 4 5 6 7" is counting
        if not 7 <= len(digits) <= 15 or _DATE_SHAPE.search(core) or dotted or single:
            continue  # dates, versions, dotted numbers and spelled-out digits are not phones
        before = text[max(0, m.start() - 40) : m.start()]
        after = text[m.end() : m.end() + 30]
        if _NOT_PHONE_CONTEXT.search(before) and not _PHONE_CONTEXT.search(before[-20:]):
            continue
        context = bool(_PHONE_CONTEXT.search(before) or _PHONE_CONTEXT.search(after))
        formatted = bool(re.search(r"[ ().-]", core)) or core.startswith(("+", "00"))
        if (context and (formatted or len(digits) >= 9)) or (formatted and _phone_valid_somewhere(core)):
            out.append(Finding("PHONE_NUMBER", m.start(), m.start() + len(cand)))
    return out


def _secrets(text: str) -> list[Finding]:
    out = [Finding(kind, m.start(), m.end()) for kind, rx in _SECRETS for m in rx.finditer(text)]
    for m in _ASSIGNED.finditer(text):
        value = m.group(2)
        if not _PLACEHOLDER.match(value) and not value.lower().startswith(("http://", "https://")):
            out.append(Finding("SECRET", m.start(2), m.end(2), m.group(1).lower()))
    return out


def resolve(findings: list[Finding]) -> list[Finding]:
    """Drop findings that overlap a higher-priority (or, same type, longer) one; sort by position."""
    rank = {t: i for i, t in enumerate(PRIORITY)}
    ordered = sorted(findings, key=lambda f: (rank.get(f.type, len(PRIORITY)), -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ordered:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def detect(text: str) -> list[Finding]:
    """Every PII and secret finding in `text`, overlaps resolved."""
    found = [Finding("EMAIL_ADDRESS", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    found += _cards(text)
    found += _ibans(text)
    found += _ssns(text) + _ips(text) + _secrets(text)
    if len(_DIGIT.findall(text)) >= 7:  # at least 7 digits (counted in C, not per char)
        found += _phones(text)
    return resolve(found)
