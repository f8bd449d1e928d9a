"""OpenAI request JSON -> frozen calls the pipeline understands. Unknown fields are ignored (clients send
many); a known field of the wrong type or out of range is a 400 naming it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.backends.base import Message
from edgeprompt.serve import toolcalls
from edgeprompt.serve.errors import ApiError, invalid

AUTO = "auto"  # the model id that lets edgeprompt's router choose
JSON_OBJECT = {"type": "object"}
MAX_STOPS = 4  # as OpenAI


@dataclass(frozen=True)
class ChatCall:
    model: str | None  # None: routed (`auto`)
    question: str
    history: tuple[Message, ...]
    system: str  # the client's system messages, then the JSON and tool instructions
    overrides: dict[str, Any]
    stream: bool = False
    include_usage: bool = False
    schema: dict[str, Any] | None = None
    tools: tuple[toolcalls.ToolSpec, ...] = ()
    tool_choice: str = "none"
    documents: bool | None = None
    prompt: str | None = None
    session_id: str | None = None
    client: str = ""  # who asks, for fair queueing (OpenAI's `user`, else the peer address)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def buffered(self) -> bool:
        """Whether the answer must be whole before it is shown: tool calls and JSON are parsed/validated."""
        return self.schema is not None or self.tool_choice != "none"


@dataclass(frozen=True)
class EmbedCall:
    model: str
    texts: tuple[str, ...]
    base64: bool


@dataclass(frozen=True)
class FeedbackCall:
    trace_id: str
    up: bool | None
    comment: str | None
    edit: str | None


def _typed(obj: dict[str, Any], key: str, kinds: tuple[type, ...], what: str, default: Any = None) -> Any:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise invalid(key, f"must be {what}")
    return value


def _number(obj: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value: float | None = _typed(obj, key, (int, float), "a number")
    if value is not None and not low <= value <= high:
        raise invalid(key, f"must be between {low} and {high}", "invalid_value")
    return value


def text_of(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of a content array."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise invalid(f"{where}[{i}]", "only text parts are supported", "unsupported_content")
            out.append(part["text"])
        return "\n".join(out)
    raise invalid(where, "must be a string or an array of text parts")


def _messages(raw: Any) -> tuple[list[str], list[Message], str]:
    """(system texts, earlier turns, the question): the last user message is the question; tool results
    sent after it are appended to it as data blocks."""
    if not isinstance(raw, list) or not raw:
        raise invalid("messages", "must be a non-empty array")
    systems: list[str] = []
    turns: list[tuple[str, str]] = []
    results: list[tuple[str, str]] = []
    names: dict[str, str] = {}  # tool_call_id -> tool name, to label results
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise invalid(where, "must be an object with a string role")
        role, content = m["role"], text_of(m.get("content"), f"{where}.content")
        if role in ("system", "developer"):
            systems.append(content)
        elif role == "user":
            turns.append(("user", content))
            results = []
        elif role == "assistant":
            for c in m.get("tool_calls") or []:
                if isinstance(c, dict) and isinstance(c.get("function"), dict):
                    names[str(c.get("id", ""))] = str(c["function"].get("name", "tool"))
            turns.append(("assistant", toolcalls.assistant_text(content, m.get("tool_calls"))))
        elif role == "tool":
            results.append((names.get(str(m.get("tool_call_id", "")), str(m.get("name") or "tool")), content))
        else:
            raise invalid(
                f"{where}.role", f"'{role}' is not system, developer, user, assistant or tool", "invalid_value"
            )
    last = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=-1)
    if last < 0:
        raise invalid("messages", "must contain a user message", "invalid_value")
    if not turns[last][1].strip() and not results:
        raise invalid("messages", "the last user message is empty", "invalid_value")
    question = turns[last][1] + toolcalls.results_block(results)
    # turns after the last user message are the assistant's tool calls; their results joined the question
    return systems, [Message(r, c) for r, c in turns[:last]], question


def _stops(raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    stops = [raw] if isinstance(raw, str) else raw
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops) or len(stops) > MAX_STOPS:
        raise invalid("stop", f"must be a string or an array of at most {MAX_STOPS} strings")
    return tuple(s for s in stops if s)


def _response_format(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """(the schema the output stage checks, the instruction for the model)."""
    if raw is None:
        return None, ""
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return None, ""
    if kind == "json_object":
        return JSON_OBJECT, "Reply with one JSON object and nothing else."
    if kind != "json_schema":
        raise invalid("response_format", "type must be text, json_object or json_schema", "invalid_value")
    spec = raw.get("json_schema")
    schema = spec.get("schema", JSON_OBJECT) if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise invalid("response_format.json_schema", "must be an object with a schema")
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ApiError(
            400, f"response_format.json_schema.schema: {e.message}", "response_format", "invalid_schema"
        ) from None
    return schema, (
        "Reply with one JSON value and nothing else. It must satisfy this JSON schema: "
        + json.dumps(schema, ensure_ascii=False, sort_keys=True)
    )


def _extras(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("edgeprompt") or {}
    if not isinstance(raw, dict):
        raise invalid("edgeprompt", "must be an object of edgeprompt options")
    documents = raw.get("documents")
    if documents is not None and not isinstance(documents, bool):
        raise invalid("edgeprompt.documents", "must be true or false")
    for key in ("prompt", "session_id"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise invalid(f"edgeprompt.{key}", "must be a string")
    return {"documents": documents, "prompt": raw.get("prompt"), "session_id": raw.get("session_id")}


def _required(body: Any, key: str) -> tuple[dict[str, Any], str]:
    """(the body as an object, its required string field `key`)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", None, "invalid_json")
    value = _typed(body, key, (str,), "a string")
    if not value:
        raise invalid(key, "is required", "missing_required_parameter")
    return body, value


def chat_call(raw: Any, peer: str) -> ChatCall:
    body, model = _required(raw, "model")
    if _typed(body, "n", (int,), "an integer", 1) != 1:
        raise invalid("n", "only 1 choice is supported", "invalid_value")
    systems, history, question = _messages(body.get("messages"))
    max_tokens = _typed(body, "max_completion_tokens", (int,), "an integer") or _typed(
        body, "max_tokens", (int,), "an integer"
    )
    if max_tokens is not None and max_tokens < 1:
        raise invalid("max_tokens", "must be at least 1", "invalid_value")
    given = {
        "max_tokens": max_tokens,
        "temperature": _number(body, "temperature", 0, 2),
        "top_p": _number(body, "top_p", 0, 1),
        "seed": _typed(body, "seed", (int,), "an integer"),
        "stop": _stops(body.get("stop")),
    }
    if given["top_p"] == 0:
        raise invalid("top_p", "must be greater than 0", "invalid_value")
    schema, json_rule = _response_format(body.get("response_format"))
    tools = toolcalls.parse_tools(body.get("tools"))
    choice = toolcalls.parse_choice(body.get("tool_choice"), tools)
    options = _typed(body, "stream_options", (dict,), "an object", {})
    extras = _extras(body)
    system = "\n\n".join(t for t in (*systems, json_rule, toolcalls.instruction(tools, choice)) if t)
    return ChatCall(
        model=None if model == AUTO else model,
        question=question,
        history=tuple(history),
        system=system,
        overrides={k: v for k, v in given.items() if v is not None},
        stream=bool(_typed(body, "stream", (bool,), "true or false", False)),
        include_usage=bool(_typed(options, "include_usage", (bool,), "true or false", False)),
        schema=schema,
        tools=tools,
        tool_choice=choice,
        documents=extras["documents"],
        prompt=extras["prompt"],
        session_id=extras["session_id"],
        client=_typed(body, "user", (str,), "a string") or peer,
        extras=extras,
    )


def embed_call(raw: Any) -> EmbedCall:
    body, model = _required(raw, "model")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise invalid("input", "must be a string or a non-empty array of strings (token arrays are not supported)")
    fmt = _typed(body, "encoding_format", (str,), "a string", "float")
    if fmt not in ("float", "base64"):
        raise invalid("encoding_format", "must be float or base64", "invalid_value")
    return EmbedCall(model, tuple(texts), fmt == "base64")


def feedback_call(raw: Any) -> FeedbackCall:
    body, trace_id = _required(raw, "trace_id")
    verdict = _typed(body, "verdict", (str,), "a string")
    if verdict not in (None, "up", "down"):
        raise invalid("verdict", "must be up or down", "invalid_value")
    edit = _typed(body, "edit", (str,), "a string")
    if verdict is None and not edit:
        raise invalid("verdict", "say up or down, or give an edit", "missing_required_parameter")
    return FeedbackCall(
        trace_id, None if verdict is None else verdict == "up", _typed(body, "comment", (str,), "a string"), edit
    )
