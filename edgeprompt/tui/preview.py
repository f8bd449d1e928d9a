"""A source opened at the cited place: the file's lines (or, for PDF, Word, HTML and mail, the loader's
blocks) with the cited lines or pages highlighted, scrolled there."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

_RANGE = re.compile(r"(line|paragraph|page)s? (\d+)(?:-(\d+))?")
RAW_KINDS = frozenset({"markdown", "text", "code", "csv", "json"})
MAX_PREVIEW_BYTES = 5_000_000


@dataclass(frozen=True)
class Place:
    unit: str  # line | paragraph | page | "" (unknown)
    first: int
    last: int

    def covers(self, start: int | None, end: int | None) -> bool:
        if start is None:
            return False
        return start <= self.last and (end if end is not None else start) >= self.first


def parse_location(location: str) -> Place:
    m = _RANGE.search(location or "")
    if m is None:
        return Place("", 0, 0)
    first = int(m.group(2))
    return Place(m.group(1), first, int(m.group(3) or first))


@dataclass(frozen=True)
class Preview:
    title: str
    body: Text
    line: int  # the preview line to scroll to


def preview(path: str, location: str, snippet: str = "") -> Preview:
    """The preview of `path` at `location` ("lines 3-9", "page 2", …); the snippet when the file is gone."""
    from edgeprompt.rag.loaders import kind_of

    p = Path(path)
    place = parse_location(location)
    title = f"{p.name} · {location}" if location else p.name
    try:
        data = p.read_bytes()[:MAX_PREVIEW_BYTES]
    except OSError as e:
        body = Text(f"{path} cannot be read now ({e.strerror}).\n\nThe cited text was:\n\n", style="italic")
        body.append(snippet)
        return Preview(title, body, 0)
    kind = kind_of(p)
    if kind in RAW_KINDS and place.unit in ("line", ""):
        return _raw(title, data, place)
    return _blocks(title, p, data, place, snippet)


def _raw(title: str, data: bytes, place: Place) -> Preview:
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    width = len(str(len(lines)))
    body = Text()
    for n, line in enumerate(lines, 1):
        cited = place.covers(n, n)
        body.append(f"{n:>{width}} ", style="bold yellow" if cited else "dim")
        body.append(line + "\n", style="reverse" if cited else "")
    return Preview(title, body, place.first)


def _blocks(title: str, p: Path, data: bytes, place: Place, snippet: str) -> Preview:
    from edgeprompt.rag.loaders import Skip, load

    try:
        loaded = load(p, data)
    except Skip as e:
        body = Text(f"{p} cannot be shown ({e}).\n\nThe cited text was:\n\n", style="italic")
        body.append(snippet)
        return Preview(title, body, 0)
    body = Text()
    row, target = 0, 0
    for b in loaded.blocks:
        start, end = (b.page, b.page) if place.unit == "page" else (b.line_start, b.line_end)
        cited = place.covers(start, end)
        if cited and not target:
            target = row
        tag = f"p.{b.page}" if b.page is not None else (f"{b.line_start}" if b.line_start is not None else "")
        body.append(f"{tag:>6} ", style="bold yellow" if cited else "dim")
        body.append(b.text + "\n", style="reverse" if cited else "")
        row += b.text.count("\n") + 1
    return Preview(title, body, target)
