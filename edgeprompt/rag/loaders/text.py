"""Markdown (markdown-it-py, with source line maps), plain text (paragraphs and light heading rules),
and source code (top-level blocks)."""

from __future__ import annotations

import re
from pathlib import Path

from edgeprompt.rag.blocks import CODE, HEADING, LIST, PARAGRAPH, TABLE, Block, Loaded, labelled_rows
from edgeprompt.rag.loaders import decode_text

_MD_KINDS = {
    "paragraph_open": PARAGRAPH,
    "bullet_list_open": LIST,
    "ordered_list_open": LIST,
    "fence": CODE,
    "code_block": CODE,
    "blockquote_open": PARAGRAPH,
    "html_block": PARAGRAPH,
}
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")


def _front_matter(lines: list[str]) -> int:
    """Number of lines of a leading `---` … `---` block (0 when there is none)."""
    if not lines or lines[0].strip() != "---":
        return 0
    for i in range(1, min(len(lines), 200)):
        if lines[i].strip() in ("---", "..."):
            return i + 1
    return 0


def load_markdown(path: Path, data: bytes) -> Loaded:
    from markdown_it import MarkdownIt

    source = decode_text(data)
    lines = source.splitlines()
    fm = _front_matter(lines)
    blocks: list[Block] = []
    if fm:
        blocks.append(Block("\n".join(lines[1 : fm - 1]), PARAGRAPH, 0, 2, fm - 1))
    parse_src = "\n" * fm + "\n".join(lines[fm:])  # blank lines keep the line numbers right
    tokens = MarkdownIt("commonmark").enable("table").parse(parse_src)
    title = ""
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None:
            continue
        a, b = tok.map
        while b > a + 1 and not lines[b - 1].strip():  # lists keep their trailing blank line in the map
            b -= 1
        if tok.type == "heading_open":
            text = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            level = int(tok.tag[1:])
            title = title or (text if level == 1 else "")
            blocks.append(Block(text, HEADING, level, a + 1, b))
        elif tok.type == "table_open":
            blocks.extend(_md_table(lines, a, b))
        elif tok.type in _MD_KINDS:
            text = "\n".join(lines[a:b]).strip()
            if text:
                blocks.append(Block(text, _MD_KINDS[tok.type], 0, a + 1, b))
    return Loaded("markdown", title or _title_from_name(path), tuple(blocks))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _md_table(lines: list[str], a: int, b: int) -> list[Block]:
    """A pipe table as labelled rows, each with its own line number (line a is the header, a+1 the rule)."""
    rows = [(_cells(lines[i]), i + 1, i + 1) for i in range(a + 2, b) if lines[i].strip()]
    table = labelled_rows(_cells(lines[a]), rows)
    if table and table[0].text.startswith("Columns: "):
        table[0] = Block(table[0].text, TABLE, 0, a + 1, a + 2)
    return table


def _title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip() or path.name


def _paragraphs(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) 0-based half-open ranges of non-blank runs."""
    out, start = [], None
    for i, line in enumerate(lines):
        if line.strip():
            start = i if start is None else start
        elif start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, len(lines)))
    return out


def _text_heading(para: list[str]) -> tuple[str, int] | None:
    """A heading in plain text: an underlined line, or a short caps / numbered / colon-ended line."""
    if len(para) == 2 and re.fullmatch(r"\s*(=+|-+)\s*", para[1]) and para[0].strip():
        return para[0].strip(), 1 if "=" in para[1] else 2
    if len(para) != 1:
        return None
    line = para[0].strip()
    if len(line) > 70 or line[-1] in ".,;!?":
        return None
    letters = [c for c in line if c.isalpha()]
    if (
        (letters and all(c.isupper() for c in letters) and len(letters) > 2)
        or line.endswith(":")
        or re.match(r"^(\d+(\.\d+)*\.?|[IVX]+\.|Section \d+|Article \d+)\s+\S", line)
    ):
        return line.rstrip(":"), 2
    return None


def load_text(path: Path, data: bytes) -> Loaded:
    lines = decode_text(data).splitlines()
    blocks: list[Block] = []
    for a, b in _paragraphs(lines):
        para = lines[a:b]
        head = _text_heading(para)
        if head is not None:
            blocks.append(Block(head[0], HEADING, head[1], a + 1, b))
            continue
        kind = (
            LIST
            if all(_BULLET.match(x) or x.startswith((" ", "\t")) for x in para) and _BULLET.match(para[0])
            else PARAGRAPH
        )
        blocks.append(Block("\n".join(para).strip(), kind, 0, a + 1, b))
    first = next((b for b in blocks if b.kind == HEADING and b.line_start == 1), None)
    title = first.text if first is not None else _title_from_name(path)
    return Loaded("text", title, tuple(blocks))


def load_code(path: Path, data: bytes) -> Loaded:
    """Top-level blocks: a new block starts after a blank line when the next line is not indented."""
    lines = decode_text(data).splitlines()
    blocks: list[Block] = []
    start: int | None = None
    for i, line in enumerate(lines):
        if start is None:
            start = i if line.strip() else None
            continue
        top = bool(line.strip()) and not line[0].isspace() and not lines[i - 1].strip()
        if top:
            _add_code(blocks, lines, start, i)
            start = i
    if start is not None:
        _add_code(blocks, lines, start, len(lines))
    return Loaded("code", path.name, tuple(blocks))


def _add_code(blocks: list[Block], lines: list[str], a: int, b: int) -> None:
    while b > a and not lines[b - 1].strip():
        b -= 1
    if b > a:
        blocks.append(Block("\n".join(lines[a:b]), CODE, 0, a + 1, b))
