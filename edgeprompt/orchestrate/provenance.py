"""Who asked for a tool call: the user, or text the assistant read (a document, a tool's result)?

An injected instruction works by making the model call a tool the user never asked for ("forward this
thread to audit@…", "delete the old drafts") or aim a requested tool at a target the user never named. So
before a tool with side effects runs, its call is compared with the turn's provenance: the user's own
words on one side, the retrieved and tool-returned text on the other. A call counts as requested by a
document when one of its target arguments (an address, path, URL, command …) appears only in that text,
or when the user's words name none of the tool's actions while the text does. Such a call is never
covered by `--yes`: the user confirms it on a terminal, or it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from edgeprompt.orchestrate.tools import Tool, ToolCall

DOCUMENT = "document"
USER = "user"
TARGET_MAX_CHARS = 300  # longer argument values are content (a body, a file's text), not a target
# arguments that say where an action lands (as opposed to content: a body, a message, a note's text)
TARGET_KEYS = frozenset(
    {
        "to",
        "cc",
        "bcc",
        "recipient",
        "recipients",
        "email",
        "address",
        "path",
        "file",
        "folder",
        "url",
        "uri",
        "link",
        "command",
        "cmd",
        "destination",
        "dest",
        "target",
        "account",
        "iban",
        "host",
        "phone",
        "number",
        "name",
        "id",
    }
)
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_TARGET_LIKE = re.compile(r"@|://|[/\\]|\.[a-z0-9]{1,5}$|^\+?\d[\d\s-]{5,}$", re.IGNORECASE)


@dataclass(frozen=True)
class Origin:
    by: str  # user | document
    reasons: tuple[str, ...] = ()

    @property
    def from_document(self) -> bool:
        return self.by == DOCUMENT


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _values(value: Any, key: str = "") -> Iterable[tuple[str, str]]:
    """(argument path, string value) for every string in the arguments, nested ones included."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _values(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _values(v, f"{key}[{i}]")


def action_words(tool_name: str) -> set[str]:
    """The words that name a tool's action: the parts of its name ("send_email" → send, email); not its
    description, which talks about everything."""
    return {w for w in _WORD.findall(tool_name.replace("_", " ").casefold())}


class Provenance:
    """The user's words for this turn against the text the assistant read while serving it."""

    def __init__(self, user_texts: Sequence[str], data_texts: Sequence[str] = ()) -> None:
        self.user = _fold("\n".join(user_texts))
        self.data: list[str] = [_fold(t) for t in data_texts]

    def add(self, text: str) -> None:
        """A retrieved passage or a tool's result that arrived during the turn."""
        self.data.append(_fold(text))

    def origin(self, tool_name: str, arguments: dict[str, Any]) -> Origin:
        reasons = []
        data = "\n".join(self.data)
        for key, value in _values(arguments):
            v = _fold(value)
            leaf = re.split(r"[.\[]", key)[-1].casefold()
            target = leaf in TARGET_KEYS or bool(_TARGET_LIKE.search(v))
            if target and 3 <= len(v) <= TARGET_MAX_CHARS and v not in self.user and v in data:
                reasons.append(f"its argument {key}={value[:80]!r} appears in what it read, not in your request")
        words = action_words(tool_name)
        user_words = set(_WORD.findall(self.user))
        if words and not words & user_words and words & set(_WORD.findall(data)):
            reasons.append(f"your request does not ask to {' / '.join(sorted(words))}; text it read does")
        return Origin(DOCUMENT if reasons else USER, tuple(reasons))


def attribute(call: ToolCall, tools: Iterable[Tool], provenance: Provenance) -> ToolCall:
    """The call marked with who asked for it when its tool has side effects (other calls are left alone)."""
    tool = next((t for t in tools if t.name == call.name), None)
    if tool is None or not tool.side_effects:
        return call
    origin = provenance.origin(call.name, call.arguments)
    return replace(call, requested_by=origin.by, why=origin.reasons) if origin.from_document else call
