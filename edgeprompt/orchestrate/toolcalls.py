"""Tool calls found in text: what a model wrote, or what the user typed.

Model output, in this order: `<tool_call>{"name": …, "arguments": …}</tool_call>` (Hermes / Qwen 2.5,
mlx-lm's `json_tools`) and `<tool_call><function=NAME><parameter=K>V</parameter></function></tool_call>`
(Qwen3-Coder); then the model's own format through mlx-lm's parser when the MLX backend loaded one
(`tokenizer.tool_parser`, e.g. Mistral, pythonic, Gemma); then a plain JSON object
`{"tool" | "name": …, "arguments" | "parameters": {…}}`, fenced or bare, or OpenAI's `tool_calls`.

The user's explicit syntax (works with any model, the demo model included):
`/calc 17% of 340`, `/convert 5 km to mile`, `/time Europe/Paris`, `/date`, `/read notes/todo.txt`,
`/search project meetings`, and `@tool NAME {json arguments}` for any tool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from edgeprompt.errors import ToolError
from edgeprompt.orchestrate.tools import ToolCall

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FUNCTION = re.compile(r"<function=([^>\s]+)>(.*?)(?:</function>|$)", re.DOTALL)
_PARAMETER = re.compile(r"<parameter=([^>\s]+)>\n?(.*?)\n?</parameter>", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
NAME_KEYS = ("name", "tool", "function")
ARG_KEYS = ("arguments", "parameters", "args", "input")


class NativeParser:
    """mlx-lm's parser for the model's own format: `parse(segment, tools)` between start and end markers."""

    def __init__(self, start: str, end: str, parse: Callable[[str, Any], Any], name: str = "native") -> None:
        self.start, self.end, self.parse, self.name = start, end, parse, name

    @classmethod
    def of_backend(cls, backend: Any) -> NativeParser | None:
        tok = getattr(backend, "tokenizer", None)
        parse = getattr(tok, "tool_parser", None)
        start = getattr(tok, "tool_call_start", None)
        if not callable(parse) or not start:
            return None
        module = getattr(parse, "__module__", "") or ""
        return cls(start, getattr(tok, "tool_call_end", "") or "", parse, "mlx:" + module.rsplit(".", 1)[-1])

    def calls(self, text: str, tools: Any) -> list[ToolCall]:
        out: list[ToolCall] = []
        pos = 0
        while (i := text.find(self.start, pos)) >= 0:
            j = text.find(self.end, i + len(self.start)) if self.end else -1
            segment = text[i + len(self.start) : j if j >= 0 else len(text)]
            pos = (j + len(self.end)) if j >= 0 else len(text)
            try:
                parsed = self.parse(segment, tools)
            except Exception:  # a model's malformed call is data, not a crash (parsers raise anything)
                continue
            for item in parsed if isinstance(parsed, list) else [parsed]:
                call = _from_obj(item, self.name, segment)
                if call is not None:
                    out.append(call)
        return out


def _arguments(value: Any) -> dict[str, Any] | None:
    if value is None:
        return {}
    if isinstance(value, str):  # OpenAI sends arguments as a JSON string
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _from_obj(obj: Any, source: str, raw: str) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # {"type": "function", "function": {"name", "arguments"}}
        obj = obj["function"]
    name = next((obj[k] for k in NAME_KEYS if isinstance(obj.get(k), str)), None)
    if not name:
        return None
    args = _arguments(next((obj[k] for k in ARG_KEYS if k in obj), None))
    return None if args is None else ToolCall(name.strip(), args, source, raw)


def _tagged(text: str) -> list[ToolCall]:
    out = []
    for m in _TAGGED.finditer(text):
        body = m.group(1)
        fn = _FUNCTION.search(body)
        if fn:  # Qwen3-Coder XML; values are JSON when they parse, else text
            args = {}
            for k, v in _PARAMETER.findall(fn.group(2)):
                try:
                    args[k] = json.loads(v)
                except ValueError:
                    args[k] = v
            out.append(ToolCall(fn.group(1).strip(), args, "tool_call", m.group(0)))
            continue
        try:
            obj = json.loads(body)
        except ValueError:
            continue
        for item in obj if isinstance(obj, list) else [obj]:
            call = _from_obj(item, "tool_call", m.group(0))
            if call is not None:
                out.append(call)
    return out


MAX_JSON_STARTS = 64  # bare-JSON search tries at most this many "{" positions (bounded work on long text)


def _json_objects(text: str) -> list[ToolCall]:
    decoder = json.JSONDecoder()
    bodies = _FENCE.findall(text) or [text]
    for body in bodies:
        starts = [i for i, ch in enumerate(body) if ch == "{"][:MAX_JSON_STARTS]
        for start in starts:
            try:
                obj, _ = decoder.raw_decode(body, start)
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("tool_calls"), list):
                calls = [c for item in obj["tool_calls"] if (c := _from_obj(item, "json", body)) is not None]
            else:
                calls = [c] if (c := _from_obj(obj, "json", body)) is not None else []
            if calls:
                return calls
    return []


def parse_tool_calls(text: str, native: NativeParser | None = None, tools: Any = None) -> list[ToolCall]:
    """Every tool call in a model's output (empty when it simply answered)."""
    if "<tool_call>" in text and (calls := _tagged(text)):
        return calls
    if native is not None and native.start in text and (calls := native.calls(text, tools)):
        return calls
    return _json_objects(text) if "{" in text else []


def visible_text(text: str, native: NativeParser | None = None) -> str:
    """The answer without any tool-call markup."""
    text = _TAGGED.sub("", text)
    if native is not None and native.start in text:
        text = text[: text.find(native.start)]
    return text.strip()


# -- the user's explicit syntax ---------------------------------------------------------------------
_SLASH = re.compile(r"^\s*/(calc|convert|time|date|read|search)\b\s*(.*)$", re.DOTALL | re.IGNORECASE)
_AT_TOOL = re.compile(r"^\s*@tool\s+([A-Za-z_][\w-]*)\s*(.*)$", re.DOTALL)
_CONVERT = re.compile(r"^(-?[\d.,]+(?:e-?\d+)?)\s*(.+?)\s+(?:to|in|into)\s+(.+?)\s*\??$", re.IGNORECASE)


def _slash(command: str, rest: str) -> ToolCall:
    rest = rest.strip()
    if command in ("calc", "read", "search") and not rest:
        raise ToolError(
            f"/{command} needs an argument, e.g. "
            + {"calc": "/calc 2*(3+4)", "read": "/read notes.txt", "search": "/search meeting notes"}[command]
        )
    if command == "calc":
        return ToolCall("calculator", {"expression": rest}, "explicit", rest)
    if command == "convert":
        m = _CONVERT.match(rest)
        if not m:
            raise ToolError("/convert needs VALUE UNIT to UNIT, e.g. /convert 5 km to mile")
        try:
            value = float(m.group(1).replace(",", ""))
        except ValueError as e:
            raise ToolError(f"/convert: '{m.group(1)}' is not a number") from e
        return ToolCall("convert_units", {"value": value, "from": m.group(2), "to": m.group(3)}, "explicit", rest)
    if command in ("time", "date"):
        return ToolCall("datetime", {"timezone": rest} if rest else {}, "explicit", rest)
    if command == "read":
        return ToolCall("read_file", {"path": rest}, "explicit", rest)
    return ToolCall("search_documents", {"query": rest}, "explicit", rest)


def parse_explicit(text: str) -> ToolCall | None:
    """The user's own tool call, or None when the text is an ordinary request."""
    m = _SLASH.match(text)
    if m:
        return _slash(m.group(1).lower(), m.group(2))
    m = _AT_TOOL.match(text)
    if not m:
        return None
    body = m.group(2).strip()
    try:
        args = json.loads(body) if body else {}
    except json.JSONDecodeError as e:
        raise ToolError(f"@tool {m.group(1)}: the arguments are not JSON ({e.msg})") from e
    if not isinstance(args, dict):
        raise ToolError(f"@tool {m.group(1)}: the arguments must be a JSON object")
    return ToolCall(m.group(1), args, "explicit", body)
