"""What a loader hands the chunker: a document's title and its structural blocks, in reading order."""

from __future__ import annotations

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
