"""Structure-following chunking with overlap and provenance.

Headings open sections (a chunk never spans two); paragraphs, list items, code blocks, table rows are
packed whole into chunks of at most `max_chars`; a block too big for one chunk is cut at sentence (prose)
or line (code, tables, lists) boundaries. Each new chunk inside a section starts with the tail of the
previous one (up to `overlap` characters, whole sentences or lines) so a fact cut at a boundary is still
found with its lead-in. Every chunk carries its heading path and its line range or page range.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from edgeprompt.rag.blocks import HEADING, PARAGRAPH, Block, Loaded, line_of

MAX_CHARS = 600  # ~130 MiniLM tokens: the model was trained on inputs of at most 128 tokens
OVERLAP = 100
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)")


@dataclass(frozen=True)
class DocChunk:
    seq: int
    context: str  # "Title > Heading > Subheading"
    text: str
    line_start: int | None
    line_end: int | None
    page: int | None
    location: str
    sha256: str  # of `embed_input`: equal hashes share one embedding

    @property
    def embed_input(self) -> str:
        return f"{self.context}\n{self.text}"


@dataclass(frozen=True)
class _Piece:
    text: str
    line_start: int | None
    line_end: int | None
    page: int | None
    overlap: bool = False


def _cut_points(block: Block) -> list[int]:
    """Offsets where this block may be cut: after sentences (prose) or lines (everything else)."""
    text = block.text
    if block.kind == PARAGRAPH:
        cuts = [m.end() for m in _SENTENCE_END.finditer(text)]
        cuts += [m.end() for m in re.finditer(r"\n", text)]
    else:
        cuts = [m.end() for m in re.finditer(r"\n", text)]
    return sorted(set(cuts))


def _piece(block: Block, a: int, b: int, overlap: bool = False) -> _Piece:
    text = block.text
    if block.line_start is None:
        return _Piece(text[a:b].strip(), None, None, block.page, overlap)
    return _Piece(
        text[a:b].strip(),
        line_of(text, a, block.line_start),
        line_of(text, max(a, b - 1), block.line_start),
        block.page,
        overlap,
    )


def split_block(block: Block, max_chars: int) -> list[_Piece]:
    """The block whole, or cut at its boundaries into pieces of at most max_chars (words as a last resort)."""
    text = block.text
    if len(text) <= max_chars:
        return [_piece(block, 0, len(text))]
    bounds = [*_cut_points(block), len(text)]
    out, start, last_ok = [], 0, 0
    for cut in bounds:
        if cut - start > max_chars:
            end = last_ok if last_ok > start else _word_cut(text, start, max_chars)
            out.append(_piece(block, start, end))
            start = end
            while len(text) - start > max_chars and cut - start > max_chars:  # one huge sentence or line
                end = _word_cut(text, start, max_chars)
                out.append(_piece(block, start, end))
                start = end
        last_ok = cut
    if start < len(text):
        out.append(_piece(block, start, len(text)))
    return [p for p in out if p.text]


def _word_cut(text: str, start: int, max_chars: int) -> int:
    end = start + max_chars
    space = text.rfind(" ", start + max_chars // 2, end)
    return space + 1 if space > 0 else end


def _tail(piece: _Piece, overlap: int) -> _Piece | None:
    """The last whole sentences/lines of a piece that fit in `overlap` characters."""
    if overlap <= 0 or not piece.text:
        return None
    if len(piece.text) <= overlap:
        return _Piece(piece.text, piece.line_start, piece.line_end, piece.page, True)
    block = Block(piece.text, PARAGRAPH, 0, piece.line_start, piece.line_end, piece.page)
    for cut in _cut_points(block):
        if len(piece.text) - cut <= overlap:
            p = _piece(block, cut, len(piece.text), overlap=True)
            return p if p.text else None
    return None


def _span(values: list[int | None]) -> tuple[int | None, int | None]:
    known = [v for v in values if v is not None]
    return (min(known), max(known)) if known else (None, None)


def location(
    line_start: int | None, line_end: int | None, page: int | None, last_page: int | None, unit: str = "line"
) -> str:
    if page is not None:
        return f"page {page}" if last_page in (None, page) else f"pages {page}-{last_page}"
    if line_start is None:
        return ""
    if line_end is None or line_end == line_start:
        return f"{unit} {line_start}"
    return f"{unit}s {line_start}-{line_end}"


def chunk(loaded: Loaded, max_chars: int = MAX_CHARS, overlap: int = OVERLAP) -> list[DocChunk]:
    out: list[DocChunk] = []
    headings: list[tuple[int, str]] = []
    cur: list[_Piece] = []

    def emit() -> None:
        if not any(not p.overlap for p in cur):
            return
        context = " > ".join([loaded.title, *(h for _, h in headings)])
        text = "\n".join(p.text for p in cur)
        first, last = _span([p.line_start for p in cur] + [p.line_end for p in cur])
        page, last_page = _span([p.page for p in cur])
        loc = location(first, last, page, last_page, loaded.line_unit)
        digest = hashlib.sha256(f"{context}\n{text}".encode()).hexdigest()
        out.append(DocChunk(len(out), context, text, first, last, page, loc, digest))

    for block in loaded.blocks:
        if block.kind == HEADING:
            emit()
            cur = []
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            title = " ".join(block.text.split())[:200]
            if headings or title != loaded.title:  # a top heading that is the title is not repeated
                headings.append((max(block.level, 1), title))
            continue
        for piece in split_block(block, max(max_chars - overlap, max_chars // 2)):  # room for the overlap
            if cur and sum(len(p.text) + 1 for p in cur) + len(piece.text) > max_chars:
                emit()
                tail = _tail(cur[-1], overlap)
                cur = [tail] if tail is not None and len(tail.text) + len(piece.text) < max_chars else []
            cur.append(piece)
    emit()
    return out
