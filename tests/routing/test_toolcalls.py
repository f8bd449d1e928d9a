"""Tool calls parsed from model output (JSON, <tool_call>, Qwen3-Coder XML, mlx-lm's own parsers) and from the
user's explicit syntax."""

from __future__ import annotations

import json

import pytest

from edgeprompt.errors import ToolError
from edgeprompt.orchestrate.toolcalls import NativeParser, parse_explicit, parse_tool_calls, visible_text


def _calls(text: str, native: NativeParser | None = None) -> list[tuple[str, dict]]:
    return [(c.name, c.arguments) for c in parse_tool_calls(text, native)]


def test_hermes_qwen_tool_call_tags() -> None:
    text = 'Let me check.\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "2+2"}}\n</tool_call>'
    assert _calls(text) == [("calculator", {"expression": "2+2"})]
    assert visible_text(text) == "Let me check."
    two = (
        '<tool_call>{"name": "datetime", "arguments": {}}</tool_call>'
        '<tool_call>{"name": "calculator", "arguments": "{\\"expression\\": \\"1+1\\"}"}</tool_call>'
    )
    assert _calls(two) == [("datetime", {}), ("calculator", {"expression": "1+1"})]
    unterminated = '<tool_call>{"name": "datetime", "arguments": {"timezone": "UTC"}}'  # stopped at the end tag
    assert _calls(unterminated) == [("datetime", {"timezone": "UTC"})]


def test_qwen3_coder_xml_calls() -> None:
    text = (
        "<tool_call>\n<function=convert_units>\n<parameter=value>\n5\n</parameter>\n"
        "<parameter=from>\nkm\n</parameter>\n<parameter=to>\nmile\n</parameter>\n</function>\n</tool_call>"
    )
    assert _calls(text) == [("convert_units", {"value": 5, "from": "km", "to": "mile"})]


def test_plain_json_and_fenced_json_and_openai_shapes() -> None:
    assert _calls('{"tool": "calculator", "arguments": {"expression": "3*3"}}') == [
        ("calculator", {"expression": "3*3"})
    ]
    fenced = 'Sure:\n```json\n{"name": "read_file", "parameters": {"path": "a.txt"}}\n```'
    assert _calls(fenced) == [("read_file", {"path": "a.txt"})]
    openai = json.dumps(
        {
            "tool_calls": [
                {"type": "function", "function": {"name": "calculator", "arguments": json.dumps({"expression": "1"})}}
            ]
        }
    )
    assert _calls(openai) == [("calculator", {"expression": "1"})]


def test_answers_without_calls_are_not_calls() -> None:
    assert _calls("The answer is 4.") == []
    assert _calls('Here is some data: {"a": 1, "b": [1, 2]}') == []
    assert _calls("<tool_call>not json</tool_call>") == []
    assert _calls('{"name": "x", "arguments": [1]}') == []


def test_mlx_lm_parsers_through_the_native_hook() -> None:
    pythonic = pytest.importorskip("mlx_lm.tool_parsers.pythonic")
    native = NativeParser("<|tool_call_start|>", "<|tool_call_end|>", pythonic.parse_tool_call, "mlx:pythonic")
    text = 'ok <|tool_call_start|>[calculator(expression="7*6")]<|tool_call_end|>'
    calls = parse_tool_calls(text, native)
    assert [(c.name, c.arguments, c.source) for c in calls] == [("calculator", {"expression": "7*6"}, "mlx:pythonic")]
    assert visible_text(text, native) == "ok"

    class Tok:  # what MlxBackend exposes: mlx-lm's TokenizerWrapper
        tool_parser = staticmethod(pythonic.parse_tool_call)
        tool_call_start, tool_call_end = "<|tool_call_start|>", "<|tool_call_end|>"

    class Backend:
        tokenizer = Tok()

    assert NativeParser.of_backend(Backend()).name == "mlx:pythonic"
    assert NativeParser.of_backend(object()) is None


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("/calc 17% of 340", "calculator", {"expression": "17% of 340"}),
        ("/convert 5 km to mile", "convert_units", {"value": 5.0, "from": "km", "to": "mile"}),
        ("/convert 1,200 g in lb?", "convert_units", {"value": 1200.0, "from": "g", "to": "lb"}),
        ("/time Europe/Paris", "datetime", {"timezone": "Europe/Paris"}),
        ("/date", "datetime", {}),
        ("/read notes/todo.txt", "read_file", {"path": "notes/todo.txt"}),
        ("/search project meetings 2025", "search_documents", {"query": "project meetings 2025"}),
        ('@tool write_file {"path": "a.md", "content": "x"}', "write_file", {"path": "a.md", "content": "x"}),
        ("@tool datetime", "datetime", {}),
    ],
)
def test_explicit_user_syntax(text: str, name: str, args: dict) -> None:
    call = parse_explicit(text)
    assert call is not None and (call.name, call.arguments, call.source) == (name, args, "explicit")


def test_ordinary_text_is_not_a_call_and_bad_syntax_is_explained() -> None:
    assert parse_explicit("what is 2+2") is None and parse_explicit("see /calc docs") is None
    for text, msg in (
        ("/calc", "needs an argument"),
        ("/convert five km", "VALUE UNIT to UNIT"),
        ("@tool calculator {bad", "not JSON"),
        ("@tool calculator [1]", "JSON object"),
    ):
        with pytest.raises(ToolError, match=msg):
            parse_explicit(text)
