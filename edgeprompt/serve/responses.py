"""Pipeline results -> OpenAI response JSON: chat completions, stream chunks, usage, embeddings.

edgeprompt's own answers about an answer (citations, firewall verdicts, cache level, trace id, abstained,
notices) go in an `edgeprompt` object beside OpenAI's fields, which clients ignore.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.pipeline import AskResult
    from edgeprompt.serve.toolcalls import ToolCallOut

BLOCKING_STAGES = ("input", "output")  # a block there replaces the answer; a blocked document is only left out


@dataclass(frozen=True)
class Completion:
    """One chat completion's identity: the id and time every chunk of it repeats."""

    id: str
    created: int
    model: str

    @classmethod
    def new(cls, model: str) -> Completion:
        import secrets

        return cls("chatcmpl-" + secrets.token_hex(12), int(time.time()), model)

    def _head(self, obj: str, model: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": model or self.model,
            "system_fingerprint": None,
        }

    def chunk(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        model: str | None = None,
        extras: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = {
            **self._head("chat.completion.chunk", model),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if extras is not None:
            out["edgeprompt"] = extras
        return out

    def usage_chunk(self, result: AskResult) -> dict[str, Any]:
        return {**self._head("chat.completion.chunk", result.model), "choices": [], "usage": usage(result)}

    def whole(self, result: AskResult, content: str | None, calls: Sequence[ToolCallOut]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if calls:
            message["tool_calls"] = [c.as_dict() for c in calls]
        return {
            **self._head("chat.completion", result.model),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(result, bool(calls))}
            ],
            "usage": usage(result),
            "edgeprompt": extras(result),
        }


def blocked(result: AskResult) -> bool:
    return any(v.stage in BLOCKING_STAGES and v.decision == "block" for v in result.verdicts)


def finish_reason(result: AskResult, called: bool = False) -> str:
    """OpenAI's reasons: a firewall block reads as its content filter, a cancelled answer as stop."""
    if blocked(result):
        return "content_filter"
    if called:
        return "tool_calls"
    return "length" if result.finish_reason == "length" else "stop"


def usage(result: AskResult) -> dict[str, int]:
    p, c = int(result.usage.get("prompt_tokens", 0)), int(result.usage.get("completion_tokens", 0))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def extras(result: AskResult) -> dict[str, Any]:
    return {
        "trace_id": result.trace_id,
        "session_id": result.session_id,
        "backend": result.backend,
        "citations": result.citations,
        "verdicts": [v.as_dict() for v in result.verdicts],
        "blocked": blocked(result),
        "cached": result.cached,
        "cache_level": result.cache or None,
        "abstained": result.abstained,
        "finish_reason": result.finish_reason,
        "notices": result.notices,
        "timings": result.timings,
    }


def sse(obj: dict[str, Any] | str) -> bytes:
    """One server-sent event (`data: [DONE]` ends the stream)."""
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def embeddings(model: str, vectors: np.ndarray, as_base64: bool, tokens: int) -> dict[str, Any]:
    import numpy as np

    rows = []
    for i, v in enumerate(vectors):
        v32 = np.asarray(v, dtype="<f4")
        value: Any = base64.b64encode(v32.tobytes()).decode("ascii") if as_base64 else v32.tolist()
        rows.append({"object": "embedding", "index": i, "embedding": value})
    return {"object": "list", "data": rows, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def model_list(cards: Sequence[Any], embedding_model: str) -> dict[str, Any]:
    now = int(time.time())
    rows = [{"id": "auto", "object": "model", "created": now, "owned_by": "edgeprompt", "edgeprompt": {"routed": True}}]
    rows += [
        {
            "id": c.id,
            "object": "model",
            "created": now,
            "owned_by": "edgeprompt",
            "edgeprompt": {"backend": c.backend, "tags": list(c.tags), "context_length": c.context_length},
        }
        for c in cards
    ]
    rows.append(
        {
            "id": embedding_model,
            "object": "model",
            "created": now,
            "owned_by": "edgeprompt",
            "edgeprompt": {"kind": "embedding", "dimensions": 384},
        }
    )
    return {"object": "list", "data": rows}
