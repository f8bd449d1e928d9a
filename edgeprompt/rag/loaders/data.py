"""CSV/TSV (one block per row, each value labelled with its column) and JSON/JSON Lines (one block per
top-level member or element, flattened to `path: value` lines, with the line range it spans)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from edgeprompt.rag.blocks import ROW, TABLE, Block, Loaded, labelled_rows
from edgeprompt.rag.loaders import Skip, decode_text

csv.field_size_limit(1 << 24)


def load_csv(path: Path, data: bytes) -> Loaded:
    text = decode_text(data)
    if path.suffix.lower() == ".tsv":
        dialect: Any = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise Skip(f"unreadable csv: {e}") from e
    rows = [(n, r) for n, r in rows if any(c.strip() for c in r)]
    if not rows:
        raise Skip("empty csv")
    header = [c.strip() for c in rows[0][1]]
    has_header = all(h and not _number(h) for h in header)
    body, prev = [], rows[0][0] if has_header else 0
    for end, row in rows[1:] if has_header else rows:
        body.append((row, prev + 1, end))
        prev = end
    blocks = labelled_rows(header if has_header else [], body)
    if has_header and blocks:
        blocks[0] = Block(blocks[0].text, TABLE, 0, rows[0][0], rows[0][0])
    return Loaded("csv", path.stem, tuple(blocks))


def _number(s: str) -> bool:
    try:
        float(s.replace(",", ""))
        return True
    except ValueError:
        return False


def flatten(value: Any, prefix: str = "") -> list[str]:
    """`a.b[0].c: value` lines; short lists of scalars stay on one line."""
    if isinstance(value, dict) and prefix and value and all(not isinstance(v, dict | list) for v in value.values()):
        # a flat record stays on one line, like a table row, so its fields are read (and quoted) together
        return [f"{prefix}: " + "; ".join(f"{k}: {_scalar(v)}" for k, v in value.items())]
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out.extend(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or [f"{prefix}: {{}}"]
    if isinstance(value, list):
        if all(not isinstance(x, dict | list) for x in value) and len(json.dumps(value)) <= 200:
            return [f"{prefix}: {', '.join(_scalar(x) for x in value)}"]
        out = []
        for i, v in enumerate(value):
            out.extend(flatten(v, f"{prefix}[{i}]"))
        return out
    return [f"{prefix}: {_scalar(value)}" if prefix else _scalar(value)]


def _scalar(x: Any) -> str:
    return "null" if x is None else (json.dumps(x) if isinstance(x, bool) else str(x))


def _ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def _members(s: str) -> list[tuple[str, Any, int, int]]:
    """(label, value, start offset, end offset) of each top-level member or element of valid JSON."""
    dec = json.JSONDecoder()
    i = _ws(s, 0)
    if i >= len(s) or s[i] not in "{[":
        value, end = dec.raw_decode(s, i)
        return [("", value, i, end)]
    is_obj = s[i] == "{"
    i = _ws(s, i + 1)
    out: list[tuple[str, Any, int, int]] = []
    while i < len(s) and s[i] not in "}]":
        label = f"[{len(out)}]"
        if is_obj:
            key, i = json.decoder.scanstring(s, i + 1)  # type: ignore[attr-defined]
            i = _ws(s, _ws(s, i) + 1)  # past the colon
            label = key
        start = i
        value, i = dec.raw_decode(s, i)
        out.append((label, value, start, i))
        i = _ws(s, i)
        if i < len(s) and s[i] == ",":
            i = _ws(s, i + 1)
    return out


def load_json(path: Path, data: bytes) -> Loaded:
    text = decode_text(data)
    blocks: list[Block] = []
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    blocks.append(Block("\n".join(flatten(json.loads(line))), ROW, 0, n, n))
                except ValueError as e:
                    raise Skip(f"unreadable json lines: line {n}: {e}") from e
        return Loaded("json", path.stem, tuple(blocks))
    try:
        json.loads(text)
    except ValueError as e:
        raise Skip(f"unreadable json: {e}") from e
    for label, value, a, b in _members(text):
        lines = flatten(value, label if not label.startswith("[") else "")
        first = text.count("\n", 0, a) + 1
        blocks.append(Block("\n".join(lines), ROW, 0, first, first + text.count("\n", a, b)))
    return Loaded("json", path.stem, tuple(blocks))
