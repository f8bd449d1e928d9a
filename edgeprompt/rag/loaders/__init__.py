"""Format loaders: a file's bytes -> `Loaded` (title + structural blocks). Pick one by file suffix.

A file that cannot be used raises `Skip(reason)`; the indexer counts it and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edgeprompt.rag.blocks import Loaded


class Skip(Exception):
    """This file is not indexed; the message is the reason shown in the summary."""


class OutOfMemory(Skip):
    """Reading this file ran out of memory (the parse worker names its limit in the reason)."""


CODE_SUFFIXES = frozenset(
    ".py .pyi .js .mjs .ts .tsx .jsx .java .c .h .cc .cpp .hpp .cs .go .rs .rb .php .swift .kt .scala "
    ".sh .bash .zsh .ps1 .sql .r .lua .pl .m .toml .yaml .yml .ini .cfg".split()
)
KINDS: dict[str, str] = {
    **{s: "markdown" for s in (".md", ".markdown", ".mdown")},
    **{s: "text" for s in (".txt", ".text", ".rst", ".org", ".log")},
    **{s: "html" for s in (".html", ".htm", ".xhtml")},
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".eml": "email",
    ".mbox": "email",
    **{s: "code" for s in CODE_SUFFIXES},
}


def kind_of(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM allowed); a few broken bytes become U+FFFD, mostly-broken or binary files are skipped."""
    if b"\x00" in data[:8192]:
        raise Skip("binary content (NUL bytes) in a text format")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 100):
        raise Skip("not UTF-8 text (too many invalid bytes)")
    return text


def _loader(kind: str) -> Callable[[Path, bytes], Loaded]:
    if kind in ("markdown", "text", "code"):
        from edgeprompt.rag.loaders import text

        return {"markdown": text.load_markdown, "text": text.load_text, "code": text.load_code}[kind]
    if kind == "html":
        from edgeprompt.rag.loaders.html import load_html

        return load_html
    if kind in ("pdf", "docx"):
        from edgeprompt.rag.loaders import office

        return office.load_pdf if kind == "pdf" else office.load_docx
    if kind in ("csv", "json"):
        from edgeprompt.rag.loaders import data

        return data.load_csv if kind == "csv" else data.load_json
    from edgeprompt.rag.loaders.mail import load_email

    return load_email


def load(path: Path, data: bytes) -> Loaded:
    """Parse `data` (the bytes of `path`) by its suffix; raises `Skip` when it cannot be used."""
    kind = kind_of(path)
    if kind is None:
        raise Skip(f"unsupported file type '{path.suffix or path.name}'")
    try:
        loaded = _loader(kind)(path, data)
    except Skip:
        raise
    except RecursionError as e:
        raise Skip(f"unreadable {kind}: nested too deeply") from e
    except MemoryError as e:
        raise OutOfMemory(f"ran out of memory reading this {kind} file") from e
    except Exception as e:  # a corrupt file of any format must not stop the whole run
        raise Skip(f"unreadable {kind}: {type(e).__name__}: {str(e)[:120]}") from e
    if not any(b.text.strip() for b in loaded.blocks):
        raise Skip(f"no text found in this {kind} file")
    return loaded
