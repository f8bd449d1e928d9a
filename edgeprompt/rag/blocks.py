"""What a loader hands the chunker: a document's title and its structural blocks, in reading order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# Block kinds. Headings open sections; the rest is content the chunker packs.
HEADING, PARAGRAPH, LIST, CODE, TABLE, ROW = "heading", "paragraph", "list", "code", "table", "row"


@dataclass(frozen=True)
class Block:
    text: str
    kind: str = PARAGRAPH
    level: int = 0  # heading level (1 = top)
    line_start: int | None = None  # 1-based, inclusive, in the original file
    line_end: int | None = None
    page: int | None = None  # 1-based (PDF)


@dataclass(frozen=True)
class Loaded:
    kind: str  # markdown | text | html | pdf | docx | code | csv | json | email
    title: str
    blocks: tuple[Block, ...]
    # text a reader never sees (hidden HTML elements, comments): not content, but the firewall scans it
    hidden: tuple[str, ...] = field(default=())
    line_unit: str = "line"  # what Block line numbers count: "line", or "paragraph" (DOCX)


def line_of(text: str, offset: int, first_line: int) -> int:
    """The line number of character `offset` in `text`, whose first line is `first_line`."""
    return first_line + text.count("\n", 0, offset)


def labelled_rows(header: Sequence[str], rows: Sequence[tuple[Sequence[str], int | None, int | None]]) -> list[Block]:
    """Table rows as blocks that stand alone: "Column: value; Column: value" (the header once, as
    "Columns: …"), so a row retrieved or quoted without its table still says what each value is."""
    names = [" ".join(h.split()) for h in header]
    out = [Block("Columns: " + ", ".join(n for n in names if n), TABLE, 0, None, None)] if any(names) else []
    for cells, a, b in rows:
        parts = []
        for i, cell in enumerate(cells):
            value = " ".join(cell.split())
            if value:
                name = names[i] if i < len(names) and names[i] else f"column {i + 1}"
                parts.append(f"{name}: {value}" if any(names) else value)
        if parts:
            out.append(Block("; ".join(parts), ROW, 0, a, b))
    return out
