"""Documents pasted into the user's own turn, found by the marks that pasting leaves.

A user who asks about an e-mail, a pull-request description or a note pastes it below their own request; an
instruction hidden in that text is an indirect injection even though it arrives in the user's turn. The rules
marked `pasted = true` and the classifier's sentence windows read what `pasted_spans` finds as a document.

The test is evidence of pasting, not length: e-mail headers (From:/To:/Subject:, Von:/Betreff:, De :/Objet :,
Asunto: …), quoted lines (`>`), fenced blocks (``` ~~~ \"\"\"), a lead-in line that asks about the text below
("Summarise this e-mail:", "Fasse diese Notiz zusammen:"), "Original Message" / "Forwarded message" lines, and,
after a line of the user's own, bare separators (---, ===) and pull-request structure (## headings, "- [ ]").
A multi-line persona prompt ("I want you to act as … My first request is …") addresses the assistant and
carries none of the strong marks, so it stays the user's own text: its sentences read like instructions
because they are the user's instructions. The user's own lead-in line is never part of a span.

Written for the normalised text (`normalize(text).text`: lower-case, accents stripped); raw text matches too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_I = re.IGNORECASE

# Header keys of a pasted e-mail (en, de, fr, es, it, pt); two distinct keys on consecutive lines make a header.
_HEADER = re.compile(
    r"^\s*(from|to|cc|bcc|subject|date|sent|reply-to|von|an|betreff|datum|gesendet|de|[aà]|objet|envoy[eé]|"
    r"asunto|para|enviado|fecha|da|oggetto|inviato|data|assunto|enviada)\s?:\s*\S",
    _I,
)
_FENCE = re.compile(r"^\s*(```|~~~|\"\"\")")
_QUOTE = re.compile(r"^\s*>")
_QUOTE_MARK = re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+")
_NAMED_SEPARATOR = re.compile(
    r"original message|forwarded message|begin forwarded message|urspr[uü]ngliche nachricht|"
    r"weitergeleitete nachricht|message d'origine|message transf[eé]r[eé]|mensaje original|mensaje reenviado|"
    r"messaggio originale|messaggio inoltrato|mensagem original|mensagem encaminhada",
    _I,
)
_SEPARATOR_WORDS = ("messag", "nachricht", "mensaje", "mensagem")
_BARE_SEPARATOR = re.compile(r"^\s*(-{3,}|={3,}|_{3,}|\*{3,})\s*$")
_STRUCTURE = re.compile(r"^\s*(#{1,6}\s+\S|[-*]\s+\[[ x]\])", _I)
# What a lead-in names: the text itself …
_DOC_NOUN = re.compile(
    r"\b(e-?mails?|mails?|messages?|notes?|notiz|nachricht|courriel|correo|mensaje|nota|texte?o?|document[oe]?|"
    r"dokument|docs?|letter|brief|lettre|carta|memo|article|artikel|articulo|art[ií]culo|post|thread|comments?|"
    r"kommentar|commentaire|comentario|description|beschreibung|descripci[oó]n|pr|pull request|merge request|"
    r"diff|patch|commit message|ticket|issue|bug report|logs?|transcript|chat|conversation|page|readme|file|"
    r"datei|fichier|archivo|snippet|code|codigo|c[oó]digo|paragraph|absatz|paragraphe|p[aá]rrafo|passage|essay|"
    r"report|bericht|rapport|informe|minutes|protokoll|compte rendu|contract|vertrag|contrat|contrato|reply|"
    r"antwort|r[eé]ponse|respuesta|review|newsletter|invoice|rechnung|facture|factura)\b",
    _I,
)
# … or what the user wants done with it, pointing at it …
_TEXT_VERB = re.compile(
    r"\b(summari[sz]e|summary|tl;?dr|translate|proofread|review|explain|rewrite|analy[sz]e|check|reply to|"
    r"respond to|answer|fix|edit|improve|shorten|correct|extract|fasse|zusammen|zusammenfassung|[uü]bersetze|"
    r"[uü]berpr[uü]fe|pr[uü]fe|erkl[aä]re|beantworte|korrigiere|r[eé]sume[zr]?|traduis(ez)?|relis(ez)?|"
    r"explique[zr]?|r[eé]ponds|corrige[zr]?|resumen?|res[uú]meme|traduce|traduzca|revisa|explica|responde)\b",
    _I,
)
_POINTER = re.compile(
    r"\b(this|these|the following|following|below|here|attached|diese[nrs]?|folgende[nrs]?|unten|hier|"
    r"ce|cet|cette|ces|ci-dessous|suivante?s?|voici|este|esta|estos|estas|siguientes?|abajo|aqu[ií])\b",
    _I,
)
# A turn that opens by giving the assistant a role or a task is the user's own prompt, however it is laid out.
_PERSONA = re.compile(
    r"\b(you are|you're|act as|acting as|i want you to|i need you to|your (task|role|job|goal|mission)|"
    r"pretend|imagine you|role-?play|play the role|take on the role|you will (act|be|play)|tu es|vous [eê]tes|"
    r"agis(sez)?|du bist|agiere|handle als|verhalte dich|eres|act[uú]a|quiero que|sei un|agisci|voc[eê] [eé]|"
    r"atue como)\b|我希望你|你是|扮演|充当|ты\b|представь|действуй",
    _I,
)
# "Translate into German:", "TL;DR:": a short line that is only the request
_START_VERB = re.compile(
    r"^(summari[sz]e|tl;?dr|translate|proofread|paraphrase|fasse|[uü]bersetze|r[eé]sume[zr]?|traduis(ez)?|"
    r"resume|res[uú]meme|traduce|traduci|riassumi|traduza|resuma)\b",
    _I,
)
_SHORT_LEAD_IN = 48
_TAIL_WORDS = 6
_LIST_ITEM = re.compile(r"^(#|[-*+•]\s|\d+[.)]\s|\*\*)")
_PERSONA_REACH = 300  # characters at the start of a turn in which a persona opening counts
_LEAD_IN_MAX = 240  # a lead-in is one short line of the user's own


@dataclass(frozen=True)
class PastedSpan:
    """One pasted document: [start, end) in the text it was found in, what gave it away, and its text with
    quote marks removed (what the document rules and the windows read)."""

    start: int
    end: int
    evidence: str  # email_headers | quote | fence | lead_in | separator | structure
    text: str


def _lines(text: str) -> list[tuple[int, int, str]]:
    """(start, end, line) for every line of `text`, end excluding the line break."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line), line))
        pos += len(line) + 1
    return out


def _is_lead_in(line: str) -> bool:
    """A short line of the user's that ends by pointing at the text below and naming it or what to do with it:
    "Summarise this e-mail:", "Here is the PR description:", "What does this note want from me?", "Could you
    summarise this for me?", "Translate into German:". A persona's task list ("Your task is to:", "cover the
    following sections:") names no text."""
    s = line.strip()
    if not s or len(s) > _LEAD_IN_MAX or s[-1] not in ":?：？" or _LIST_ITEM.match(s):
        return False
    if s[-1] in ":：" and len(s) <= _SHORT_LEAD_IN and _START_VERB.match(s):
        return True
    tail = " ".join(s.split()[-_TAIL_WORDS:])  # the words that point at the block, not a long request before
    named = _DOC_NOUN.search(tail) or _TEXT_VERB.search(tail)
    return bool(named and _POINTER.search(tail))


def _next_nonblank(lines: list[tuple[int, int, str]], i: int) -> int:
    while i < len(lines) and not lines[i][2].strip():
        i += 1
    return i


def _header_key(line: str) -> str | None:
    m = _HEADER.match(line)
    return m.group(1).lower() if m else None


def _marks(text: str, lines: list[tuple[int, int, str]], first: int) -> list[tuple[int, int, str]]:
    """(first line, end line exclusive, evidence) of the marks that only pasting leaves: an e-mail header, an
    "Original Message" line, a lead-in. Each runs to the end of the turn: where a pasted text stops is not
    marked, and a closing line of the user's read as a document costs little."""
    n = len(lines)
    keys = [_header_key(line) if ":" in line else None for _, _, line in lines]
    low = text.lower()  # every named separator has one of these words: a cheap test before the long pattern
    named = any(w in low for w in _SEPARATOR_WORDS) and _NAMED_SEPARATOR.search(text) is not None
    for i in range(first, n):
        line = lines[i][2]
        if keys[i] is not None and i + 1 < n and keys[i + 1] is not None and keys[i] != keys[i + 1]:
            return [(i, n, "email_headers")]
        if named and len(line.strip()) <= 80 and _NAMED_SEPARATOR.search(line):
            return [(i + 1, n, "separator")]
        if _is_lead_in(line) and _next_nonblank(lines, i + 1) < n:
            return [(i + 1, n, "lead_in")]
    return []


def _layout(lines: list[tuple[int, int, str]], first: int) -> list[tuple[int, int, str]]:
    """Quoted runs and fenced blocks anywhere; bare separators and pull-request structure only below a line of
    the user's own. Prompt authors lay their own prompts out with these too (see `pasted_spans`)."""
    found: list[tuple[int, int, str]] = []
    n, i = len(lines), first
    while i < n:
        fence = _FENCE.match(lines[i][2])
        if fence:
            j = i + 1
            while j < n and not lines[j][2].strip().startswith(fence.group(1)):
                j += 1
            found.append((i + 1, j, "fence"))
            i = j + 1
        elif _QUOTE.match(lines[i][2]):
            j = i + 1
            while j < n and (_QUOTE.match(lines[j][2]) or (not lines[j][2].strip() and _quoted(lines, j + 1))):
                j += 1
            found.append((i, j, "quote"))
            i = j
        else:
            i += 1
    if _BARE_SEPARATOR.match(lines[first][2]) or _STRUCTURE.match(lines[first][2]):
        return found  # no line of the user's own above: the layout is the prompt's
    seps = [k for k in range(first + 1, n) if _BARE_SEPARATOR.match(lines[k][2])]
    if seps:
        found.append((seps[0] + 1, seps[1] if len(seps) > 1 else n, "separator"))
    marks = [k for k in range(first + 1, n) if _STRUCTURE.match(lines[k][2])]
    if len(marks) >= 2:
        found.append((marks[0], n, "structure"))
    return found


def _quoted(lines: list[tuple[int, int, str]], j: int) -> bool:
    return j < len(lines) and bool(_QUOTE.match(lines[j][2]))


@lru_cache(maxsize=16)  # the rules and the windows ask about the same turn, one after the other
def pasted_spans(text: str) -> tuple[PastedSpan, ...]:
    """The documents pasted into a user's turn, in order and not overlapping; () when it shows no sign of
    pasting. Layout (quotes, fences, bare separators, markdown structure) does not count in a turn that opens by
    giving the assistant a role: persona prompts are laid out with them."""
    lines = _lines(text)
    first = _next_nonblank(lines, 0)
    if first >= len(lines):
        return ()
    blocks = _marks(text, lines, first)
    if not _PERSONA.search(text[:_PERSONA_REACH]):
        blocks += _layout(lines, first)
    spans: list[PastedSpan] = []
    for a, b, evidence in sorted(blocks):
        a = _next_nonblank(lines, a)
        if a >= b:
            continue
        start, end = lines[a][0], lines[b - 1][1]
        if spans and start < spans[-1].end:  # inside or across an earlier document: only what lies beyond it
            if end <= spans[-1].end:
                continue
            start = spans[-1].end + 1
        body = _QUOTE_MARK.sub("", text[start:end]).strip()
        if body:
            spans.append(PastedSpan(start, end, evidence, body))
    return tuple(spans)


def pasted_part(text: str) -> str:
    """The text of every pasted document in a user's turn, one after the other; "" when there is none."""
    return "\n".join(s.text for s in pasted_spans(text))
