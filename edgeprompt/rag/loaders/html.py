"""HTML: the visible text as blocks (headings, paragraphs, list items, table rows, pre).

Hidden elements (`hidden`, `aria-hidden="true"`, `display:none`, `visibility:hidden`, zero font size or
opacity, <template>) and comments are not content: a reader never sees them, so they are not indexed.
They are returned as `Loaded.hidden` because that is exactly where injected instructions hide, and the
firewall scans them. Scripts and styles are dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

from edgeprompt.rag.blocks import CODE, HEADING, LIST, PARAGRAPH, Block, Loaded, labelled_rows
from edgeprompt.rag.loaders import Skip, decode_text

_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_DROP = frozenset(("script", "style", "noscript", "svg"))
_BLOCK = frozenset(
    "p div section article main aside header footer nav blockquote dd dt figcaption caption "
    "form fieldset address details summary ul ol dl table tbody thead tfoot body html".split()
)
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])"
    r"|opacity\s*:\s*0(?![.\d]*[1-9])",
    re.I,
)
_SPACE = re.compile(r"\s+")
# Browsers stop nesting at a few hundred levels; deeper is a broken or hostile file (100,000 nested <div>s)
MAX_DEPTH = 1000
# Old-style HTML leaves <p>, <li>, <td>, <tr>… open; as in a browser the next sibling closes them (in this
# order: a cell before its row), so such pages do not nest thousands deep
_IMPLIED_CLOSE: dict[str, tuple[str, ...]] = {
    "p": ("p",),
    "li": ("p", "li"),
    "dt": ("p", "dt", "dd"),
    "dd": ("p", "dt", "dd"),
    "option": ("option",),
    "td": ("td", "th"),
    "th": ("td", "th"),
    "tr": ("td", "th", "tr"),
    "table": ("p",),
}


def _hides(tag: str, attrs: dict[str, str | None]) -> bool:
    return (
        tag == "template"
        or "hidden" in attrs
        or (attrs.get("aria-hidden") or "").lower() == "true"
        or bool(_HIDDEN_STYLE.search(attrs.get("style") or ""))
    )


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, hidden here, dropped here)
        # counts over the stack, so each tag costs O(1), not O(depth) (deep files were quadratic)
        self._open: Counter[str] = Counter()
        self._hidden_open = 0
        self._dropped_open = 0
        self.blocks: list[Block] = []
        self.hidden: list[str] = []
        self.title = ""
        self._buf: list[str] = []
        self._kind = PARAGRAPH
        self._level = 0
        self._start: int | None = None
        self._hidden_buf: list[str] = []
        # the table being read: rows of (cells, first line, last line, all header cells)
        self._table: list[tuple[list[str], int, int, bool]] | None = None
        self._row: list[str] | None = None
        self._row_th = True
        self._row_start = 0
        self._cell: list[str] | None = None

    # state ------------------------------------------------------------------------------------------
    def _is(self, index: int) -> bool:
        return (self._hidden_open if index == 1 else self._dropped_open) > 0

    def _push(self, tag: str, hides: bool, drops: bool) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise Skip(f"HTML nested deeper than {MAX_DEPTH:,} elements")
        self.stack.append((tag, hides, drops))
        self._open[tag] += 1
        self._hidden_open += hides
        self._dropped_open += drops

    def _pop(self) -> tuple[str, bool, bool]:
        tag, hides, drops = self.stack.pop()
        self._open[tag] -= 1
        self._hidden_open -= hides
        self._dropped_open -= drops
        return tag, hides, drops

    def _flush(self) -> None:
        raw = "".join(self._buf)
        text = raw.strip("\n") if self._kind == CODE else _SPACE.sub(" ", raw).strip(" |")
        if text.strip():
            line = self.getpos()[0]
            self.blocks.append(Block(text, self._kind, self._level, self._start or line, line))
        self._buf, self._kind, self._level, self._start = [], PARAGRAPH, 0, None

    def _flush_hidden(self) -> None:
        text = _SPACE.sub(" ", "".join(self._hidden_buf)).strip()
        if text:
            self.hidden.append(text)
        self._hidden_buf = []

    # parser callbacks ---------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag in _VOID:
            if tag == "br":
                self._buf.append("\n")
            return
        for name in _IMPLIED_CLOSE.get(tag, ()):
            if self.stack and self.stack[-1][0] == name:
                self.handle_endtag(name)
        hides = _hides(tag, attrs) and not self._is(1)
        if hides:
            self._flush_hidden()
        self._push(tag, hides, tag in _DROP)
        if self._is(1) or self._is(2):
            return
        if re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._kind, self._level = HEADING, int(tag[1])
        elif tag == "li":
            self._flush()
            self._kind = LIST
            self._buf.append("- ")
        elif tag == "table" and self._table is None:
            self._flush()
            self._table = []
        elif tag == "tr" and self._table is not None:
            self._row, self._row_th, self._row_start = [], True, self.getpos()[0]
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._row_th = self._row_th and tag == "th"
        elif tag == "pre":
            self._flush()
            self._kind = CODE
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if not self._open[tag]:
            return  # a stray end tag
        while self.stack:  # elements left open inside this one end here too (a cell in a row in a table)
            name, hid, _ = self._pop()
            if hid:
                self._flush_hidden()
            self._ended(name)
            if name == tag:
                break

    def _ended(self, tag: str) -> None:
        if self._is(1) or self._is(2):
            return
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(_SPACE.sub(" ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self._table.append((self._row, self._row_start, self.getpos()[0], self._row_th))
            self._row = None
        elif tag == "table" and self._table is not None:
            self._end_table()
        elif re.fullmatch(r"h[1-6]|li|pre", tag) or (tag in _BLOCK and self._table is None):
            self._flush()

    def _end_table(self) -> None:
        rows, self._table = self._table or [], None
        has_header = bool(rows) and (rows[0][3] or len(rows) > 1)
        header = rows[0][0] if has_header else []
        body = [(cells, a, b) for cells, a, b, _ in (rows[1:] if has_header else rows)]
        blocks = labelled_rows(header, body)
        if has_header and blocks and blocks[0].text.startswith("Columns: "):
            first = blocks[0]
            blocks[0] = Block(first.text, first.kind, 0, rows[0][1], rows[0][2])
        self.blocks.extend(blocks)

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1][0] == "title" and not self.title:
            self.title = _SPACE.sub(" ", data).strip()
            return
        if self._is(2) or (self.stack and self.stack[-1][0] == "title"):
            return
        if self._is(1):
            self._hidden_buf.append(data)
            return
        if self._cell is not None:
            self._cell.append(data)
            return
        if self._start is None and data.strip():
            self._start = self.getpos()[0]
        self._buf.append(data)

    def handle_comment(self, data: str) -> None:
        if data.strip():
            self.hidden.append(_SPACE.sub(" ", data).strip())


def load_html(path: Path, data: bytes) -> Loaded:
    parser = _Visible()
    parser.feed(decode_text(data))
    parser.close()
    if parser._table is not None:  # an unclosed table
        parser._end_table()
    parser._flush()
    parser._flush_hidden()
    first_h1 = next((b.text for b in parser.blocks if b.kind == HEADING and b.level == 1), "")
    title = parser.title or first_h1 or path.stem
    return Loaded("html", title, tuple(parser.blocks), tuple(parser.hidden))
