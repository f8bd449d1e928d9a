"""What `ask` reads from stdin: a JSON Lines batch, one plain-text question, or text to answer about.

`echo text | edgeprompt ask -` is a question, not a malformed batch: stdin is a batch only when its first
line parses as the expected object. `cat notes.md | edgeprompt ask "summarise"` puts the piped text before
the instruction, as `llm` does, so the model reads it as the thing to work on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Piped:
    text: str  # everything read ("" when nothing was piped)
    batch: bool  # True: JSON Lines of {key: …} objects, one request per line


def read_stdin(stream: Any) -> str:
    """The piped text, or "" when stdin is a terminal or cannot be read (a closed or captured stream)."""
    try:
        if stream is None or stream.isatty():
            return ""
        return str(stream.read())
    except (OSError, ValueError):
        return ""


def classify(text: str, key: str) -> Piped:
    """A batch when the first non-empty line is a JSON object with a string `key`; plain text otherwise."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    try:
        rec = json.loads(first) if first else None
    except ValueError:
        rec = None
    return Piped(text, isinstance(rec, dict) and isinstance(rec.get(key), str))


def with_context(instruction: str, piped: str) -> str:
    """The piped text, then the instruction on its own paragraph."""
    body = piped.strip()
    return f"{body}\n\n{instruction.strip()}" if body else instruction
