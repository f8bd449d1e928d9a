"""The built-in tools: search my documents, calculator, unit conversion, date and time, read a file and
write a file inside the folders the user allowed (`[tools] allowed_folders`). Only `write_file` has side
effects, so only it asks for confirmation.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import ToolError
from edgeprompt.orchestrate.calculator import evaluate, format_number
from edgeprompt.orchestrate.tools import Tool, ToolBox

if TYPE_CHECKING:
    from edgeprompt.rag.library import Library

_UNITS: Any = None
_UNITS_LOCK = threading.Lock()


def calculator_tool() -> Tool:
    def run(expression: str) -> dict[str, Any]:
        value = evaluate(expression)
        shown = format_number(value)
        if isinstance(value, float) and math.isfinite(value):
            value = float(shown)  # 1250 * 0.07 is 87.5 to a person, not 87.50000000000001
        return {"expression": expression, "value": value, "text": f"{expression} = {shown}"}

    return Tool(
        "calculator",
        "Evaluate an arithmetic expression exactly (+ - * / // % ** ^, sqrt, log, sin, "
        "factorial, pi, 'N% of M'). Use it for every calculation.",
        {
            "type": "object",
            "properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 500}},
            "required": ["expression"],
            "additionalProperties": False,
        },
        run,
    )


def _registry() -> Any:
    """pint's unit registry takes ~0.5 s to build: once per process, on first use."""
    global _UNITS
    with _UNITS_LOCK:
        if _UNITS is None:
            import pint

            _UNITS = pint.UnitRegistry()
        return _UNITS


def units_tool() -> Tool:
    def run(value: float, **kw: str) -> dict[str, Any]:
        import pint

        ureg, src, dst = _registry(), kw["from"], kw["to"]
        try:
            out = ureg.Quantity(value, src).to(dst)
        except pint.errors.UndefinedUnitError as e:
            raise ToolError(f"convert_units: unknown unit {e.unit_names!r}") from e
        except pint.errors.DimensionalityError as e:
            raise ToolError(f"convert_units: cannot convert {src} to {dst} (different kinds of quantity)") from e
        except (pint.errors.PintError, ValueError, TypeError, AttributeError) as e:
            raise ToolError(f"convert_units: {e}") from e
        number = float(out.magnitude)
        return {
            "value": number,
            "unit": f"{out.units:~}" or dst,
            "text": f"{format_number(value)} {src} = {number:.6g} {out.units:~}",
        }

    return Tool(
        "convert_units",
        "Convert a quantity between units (length, mass, volume, temperature, speed, "
        "energy, data size, time), e.g. 5 km to mile, 72 degF to degC.",
        {
            "type": "object",
            "properties": {
                "value": {"type": "number"},
                "from": {"type": "string", "minLength": 1},
                "to": {"type": "string", "minLength": 1},
            },
            "required": ["value", "from", "to"],
            "additionalProperties": False,
        },
        run,
    )


def _zone(name: str | None) -> dt.tzinfo:
    if not name:
        return dt.datetime.now().astimezone().tzinfo or dt.UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ToolError(f"datetime: unknown time zone '{name}' (use names like Europe/Paris or UTC)") from e


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise ToolError(f"datetime: '{text}' is not a date like 2025-03-14") from e


def datetime_tool(now: Callable[[dt.tzinfo], dt.datetime] | None = None) -> Tool:
    clock = now or (lambda tz: dt.datetime.now(tz))

    def run(
        timezone: str | None = None, date: str | None = None, add_days: int | None = None, until: str | None = None
    ) -> dict[str, Any]:
        current = clock(_zone(timezone))
        out: dict[str, Any] = {"now": current.isoformat(timespec="seconds"), "timezone": str(current.tzinfo)}
        day = _date(date) if date else current.date()
        out.update({"date": day.isoformat(), "weekday": day.strftime("%A")})
        if add_days is not None:
            later = day + dt.timedelta(days=add_days)
            out["result"] = {"date": later.isoformat(), "weekday": later.strftime("%A")}
        words = [f"{current:%A %Y-%m-%d %H:%M} ({out['timezone']})" if not date else f"{day:%A %Y-%m-%d}"]
        if add_days is not None:
            words.append(f"{add_days:+d} days: {out['result']['weekday']} {out['result']['date']}")
        if until is not None:
            out["days_until"] = (_date(until) - day).days
            words.append(f"{out['days_until']} days until {until}")
        out["text"] = "; ".join(words)
        return out

    return Tool(
        "datetime",
        "The current date and time (in a time zone), a date plus or minus days, or the "
        "number of days from one date until another.",
        {
            "type": "object",
            "properties": {
                "timezone": {"type": "string"},
                "date": {"type": "string", "description": "YYYY-MM-DD"},
                "add_days": {"type": "integer", "minimum": -100000, "maximum": 100000},
                "until": {"type": "string", "description": "YYYY-MM-DD"},
            },
            "additionalProperties": False,
        },
        run,
    )


def resolve_inside(path_text: str, folders: Sequence[Path], who: str) -> Path:
    """The real path of `path_text` if it lies inside an allowed folder once symlinks are resolved.
    Relative paths are looked up in each allowed folder in turn; '..' is refused outright."""
    if not folders:
        raise ToolError(f"{who}: no folders are allowed; list them in [tools] allowed_folders in config.toml")
    if "\x00" in path_text or not path_text.strip():
        raise ToolError(f"{who}: invalid path")
    given = Path(path_text).expanduser()
    if ".." in given.parts:
        raise ToolError(f"{who}: '..' is not allowed in paths")
    roots = [Path(f).expanduser().resolve() for f in folders]
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    resolved = [cand.resolve() for cand in candidates]  # follows symlinks: a link out of a root is outside
    inside = [real for real in resolved if any(real == root or real.is_relative_to(root) for root in roots)]
    if not inside:
        raise ToolError(f"{who}: {path_text} is outside the allowed folders ({', '.join(map(str, roots))})")
    return next((real for real in inside if real.exists()), inside[0])


def read_file_tool(folders: Sequence[Path], max_bytes: int = 200_000) -> Tool:
    def run(path: str) -> dict[str, Any]:
        real = resolve_inside(path, folders, "read_file")
        if not real.is_file():
            raise ToolError(f"read_file: {path} is not a file")
        try:
            with open(real, "rb") as f:
                data = f.read(max_bytes + 1)
        except OSError as e:
            raise ToolError(f"read_file: {path}: {e.strerror}") from e
        if b"\x00" in data[:4096]:
            raise ToolError(f"read_file: {path} is a binary file")
        cut = len(data) > max_bytes
        return {"path": str(real), "text": data[:max_bytes].decode("utf-8", errors="replace"), "truncated": cut}

    return Tool(
        "read_file",
        "Read a text file from the folders the user allowed.",
        {
            "type": "object",
            "properties": {"path": {"type": "string", "minLength": 1}},
            "required": ["path"],
            "additionalProperties": False,
        },
        run,
    )


def write_file_tool(folders: Sequence[Path], max_bytes: int = 1_000_000) -> Tool:
    def run(path: str, content: str, overwrite: bool = False) -> dict[str, Any]:
        real = resolve_inside(path, folders, "write_file")
        if real.exists() and (real.is_dir() or not overwrite):
            raise ToolError(f"write_file: {path} exists; pass overwrite=true to replace it")
        data = content.encode("utf-8")
        if len(data) > max_bytes:
            raise ToolError(f"write_file: the content is larger than {max_bytes} bytes")
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            tmp = real.with_name(real.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, real)
        except OSError as e:
            raise ToolError(f"write_file: {path}: {e.strerror}") from e
        return {"path": str(real), "bytes": len(data)}

    return Tool(
        "write_file",
        "Write a text file inside the folders the user allowed (asks the user first).",
        {
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "content": {"type": "string"},
                "overwrite": {"type": "boolean"},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        },
        run,
        side_effects=True,
    )


def search_tool(
    search: Callable[[str, int], list[dict[str, Any]]],
    judge: Callable[[str, list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> Tool:
    """`judge`: whether the hits answer the query (`answer_judge`), added to the output as "answer" so a
    model reading it is told when the documents only talk about the subject."""

    def run(query: str, k: int = 5) -> dict[str, Any]:
        hits = search(query, k)
        return {"query": query, "hits": hits, **({"answer": judge(query, hits)} if judge and hits else {})}

    return Tool(
        "search_documents",
        "Search the user's own documents (notes, PDFs, mail) and return the most "
        "relevant passages with their file paths.",
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "k": {"type": "integer", "minimum": 1, "maximum": 20},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        run,
    )


def document_search(documents: Callable[[], Library]) -> Callable[[str, int], list[dict[str, Any]]]:
    """`Retriever.search` over the user's library (edgeprompt.rag), built on the first search; flagged chunks
    stay out."""

    def search(query: str, k: int) -> list[dict[str, Any]]:
        library = documents()
        if not library.has_documents():
            raise ToolError("search_documents: there are no documents yet; add some with `edgeprompt docs add PATH`")
        hits = library.retriever.search(query, k)
        return [
            {"n": i, "path": h.path, "location": h.location, "text": h.text, "relevance": round(h.relevance, 4)}
            for i, h in enumerate(hits, 1)
        ]

    return search


def answer_judge(embed: Callable[[list[str]], Any]) -> Callable[[str, list[dict[str, Any]]], dict[str, Any]]:
    """The answerability judge (edgeprompt.rag.answerable) over search hits: does a sentence of them answer
    the query's asked attribute, and with what span (cited by its hit's n)."""

    def run(query: str, hits: list[dict[str, Any]]) -> dict[str, Any]:
        from edgeprompt.backends.base import Document
        from edgeprompt.rag.answerable import judge_question
        from edgeprompt.rag.extract import score

        docs = [
            Document(
                int(h["n"]),
                str(h.get("text", "")),
                str(h.get("path", "")),
                str(h.get("location", "")),
                float(h.get("relevance", 0.0)),
            )
            for h in hits
        ]
        verdict = judge_question(query, score(query, docs, embed), docs)
        best = verdict.best if verdict.answerable else None
        return {
            "answered": best is not None,
            "score": round(verdict.score, 4),
            **(
                {"span": best.span, "n": best.sentence.n, "sentence": best.sentence.text}
                if best
                else {"note": "these passages mention the subject but do not state what was asked"}
            ),
        }

    return run


def allowed_folders(tools: Mapping[str, Any]) -> list[Path]:
    return [Path(str(p)).expanduser() for p in tools["allowed_folders"]]


def default_toolbox(documents: Callable[[], Library], tools: Mapping[str, Any]) -> ToolBox:
    """The built-in tools over the user's library and the `[tools]` settings (folders, file size)."""
    folders = allowed_folders(tools)
    max_bytes = int(tools["max_file_bytes"])
    judge = answer_judge(lambda texts: documents().retriever.embedder().embed_batch(texts))
    return ToolBox(
        [
            search_tool(document_search(documents), judge),
            calculator_tool(),
            units_tool(),
            datetime_tool(),
            read_file_tool(folders, max_bytes),
            write_file_tool(folders),
        ]
    )
