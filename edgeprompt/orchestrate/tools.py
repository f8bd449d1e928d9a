"""The tool seam: a `Tool` is a name, a description, JSON-schema parameters and a function.

`ToolBox.call(call, confirm)` validates the arguments against the schema (`jsonschema`), asks the
user's confirmation for a tool with side effects (the CLI asks on a TTY, `--yes` allows, anything
else refuses), runs it, and returns a `ToolResult`. Tool failures come back as results with
`ok=False` so a model can read the error; only `ToolBox.run` (the CLI's direct call) raises.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.errors import ToolError

MAX_RESULT_CHARS = 8_000  # what re-enters a prompt from one call


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]  # a JSON schema for the arguments object
    function: Callable[..., Any] = field(compare=False)  # (**arguments) -> str | dict | list | number
    side_effects: bool = False  # writes, sends or deletes something: the user confirms each call

    def spec(self) -> dict[str, Any]:
        """The OpenAI / mlx-lm `tools=[…]` entry that chat templates render."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": dict(self.parameters)},
        }


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    source: str = "json"  # json | tool_call | mlx:<parser> | explicit
    raw: str = ""
    requested_by: str = "user"  # user | document (edgeprompt.orchestrate.provenance): who asked for it
    why: tuple[str, ...] = ()  # what made it a document's request

    def as_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "arguments": self.arguments, "source": self.source}
        return {**out, "requested_by": self.requested_by, "why": list(self.why)} if self.why else out


@dataclass(frozen=True)
class ToolResult:
    call: ToolCall
    ok: bool
    output: Any  # the function's value when ok, else the error text
    duration_ms: float
    refused: bool = False  # a side-effect call the user did not confirm

    def text(self) -> str:
        """The result as prompt text, cut at MAX_RESULT_CHARS."""
        out = self.output if isinstance(self.output, str) else json.dumps(self.output, ensure_ascii=False, default=str)
        if not self.ok:
            out = f"error: {out}"
        return out if len(out) <= MAX_RESULT_CHARS else out[:MAX_RESULT_CHARS] + " … [cut]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.call.name,
            "arguments": self.call.arguments,
            "ok": self.ok,
            "output": self.output,
            "refused": self.refused,
            "duration_ms": round(self.duration_ms, 2),
        }


Confirm = Callable[[Tool, ToolCall], bool]


def refuse_all(tool: Tool, call: ToolCall) -> bool:
    """The default confirmation: nothing with side effects runs unless someone said yes."""
    return False


def allow_all(tool: Tool, call: ToolCall) -> bool:
    return True


class ToolBox:
    def __init__(self, tools: Sequence[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)

    def add(self, tool: Tool) -> None:
        from jsonschema import Draft202012Validator

        Draft202012Validator.check_schema(dict(tool.parameters))  # a broken schema fails at registration
        self._tools[tool.name] = tool

    def names(self) -> list[str]:
        return sorted(self._tools)

    def get(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool '{name}' (tools: {', '.join(self.names())})")
        return tool

    def __iter__(self) -> Any:
        return iter(self._tools[n] for n in self.names())

    def specs(self) -> list[dict[str, Any]]:
        return [t.spec() for t in self]

    def validate(self, tool: Tool, arguments: Any) -> None:
        from jsonschema import Draft202012Validator

        if not isinstance(arguments, dict):
            raise ToolError(f"{tool.name}: arguments must be a JSON object")
        errors = sorted(Draft202012Validator(dict(tool.parameters)).iter_errors(arguments), key=lambda e: e.path)
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.absolute_path)
            raise ToolError(f"{tool.name}: invalid arguments{f' at {where}' if where else ''}: {e.message}")

    def call(self, call: ToolCall, confirm: Confirm = refuse_all) -> ToolResult:
        """Run one call; errors and refusals become results the model can read."""
        t0 = time.perf_counter()
        try:
            tool = self.get(call.name)
            self.validate(tool, call.arguments)
            if tool.side_effects and not confirm(tool, call):
                why = (
                    f" (it was requested by text the assistant read, not by the user: {'; '.join(call.why)})"
                    if call.requested_by != "user"
                    else ""
                )
                return ToolResult(
                    call,
                    False,
                    f"{tool.name}: the user did not confirm this call{why}",
                    (time.perf_counter() - t0) * 1e3,
                    refused=True,
                )
            value = tool.function(**call.arguments)
        except ToolError as e:
            return ToolResult(call, False, str(e), (time.perf_counter() - t0) * 1e3)
        return ToolResult(call, True, value, (time.perf_counter() - t0) * 1e3)

    def run(self, call: ToolCall, confirm: Confirm = refuse_all) -> ToolResult:
        """Like `call`, but a failure raises ToolError (for direct use from the command line)."""
        result = self.call(call, confirm)
        if not result.ok:
            raise ToolError(str(result.output))
        return result
