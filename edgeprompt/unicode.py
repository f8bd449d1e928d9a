"""Text that came from outside (argv, stdin, files) made safe to store and tokenize."""

from __future__ import annotations


def clean_text(text: str) -> str:
    """Undo surrogate escapes from undecodable bytes and replace what stays invalid with U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace").replace("\x00", "")
