"""Every built-in tool, argument validation, refusals (unsafe expressions, path escapes), confirmation."""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import pytest

from edgeprompt.errors import ToolError
from edgeprompt.orchestrate.builtin_tools import (
    calculator_tool,
    datetime_tool,
    read_file_tool,
    search_tool,
    units_tool,
    write_file_tool,
)
from edgeprompt.orchestrate.calculator import evaluate, format_number
from edgeprompt.orchestrate.tools import Tool, ToolBox, ToolCall, allow_all, refuse_all


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("2+2", 4),
        ("2 * (3 + 4) - 5 / 2", 11.5),
        ("2^10", 1024),
        ("2**0.5", math.sqrt(2)),
        ("17% of 340", 57.8),
        ("sqrt(1764)", 42),
        ("factorial(10)", 3628800),
        ("-3 // 2", -2),
        ("7 % 3", 1),
        ("1,250 × 0.07", 87.5),
        ("round(pi, 3)", 3.142),
        ("max(3, 9, 4)", 9),
        ("log10(1000)", 3),
        ("15% + 1", 1.15),
    ],
)
def test_calculator_values(expr: str, value: float) -> None:
    assert evaluate(expr) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("__import__('os').system('ls')", "not allowed"),
        ("open('/etc/passwd')", "function 'open'"),
        ("x + 1", "name 'x'"),
        ("(1).__class__", "Attribute"),
        ("[1, 2][0]", "not allowed"),
        ("'a' * 3", "str"),
        ("lambda: 1", "Lambda"),
        ("9**9**9", "exponents"),
        ("10**5000", "digits"),
        ("factorial(100000)", "factorial is limited"),
        ("1/0", "division by zero"),
        ("2 +", "cannot read"),
        ("", "empty"),
        ("1" * 600, "longer than"),
        ("sqrt(-1)", "math domain"),
        ("round(x=1)", "plain arguments"),
        ("True + 1", "bool"),
        ("-" * 80 + "1", "nested too deeply"),
    ],
)
def test_calculator_refuses_unsafe_or_bad_expressions(expr: str, why: str) -> None:
    with pytest.raises(ToolError, match=why):
        evaluate(expr)


def test_calculator_never_uses_eval() -> None:
    src = Path(evaluate.__code__.co_filename).read_text()
    assert "eval(" not in src.replace("def evaluate(", "").replace("literal_eval(", "")


def test_number_formatting() -> None:
    assert format_number(0.1 + 0.2) == "0.3" and format_number(4.0) == "4" and format_number(10**20) == str(10**20)


def _box(*tools: Tool) -> ToolBox:
    return ToolBox(tools)


def test_toolbox_validates_arguments_against_the_schema() -> None:
    box = _box(calculator_tool())
    assert box.call(ToolCall("calculator", {"expression": "6*7"})).output["value"] == 42
    bad = box.call(ToolCall("calculator", {"expr": "6*7"}))
    assert not bad.ok and "invalid arguments" in bad.output
    bad = box.call(ToolCall("calculator", {"expression": 42}))
    assert not bad.ok and "expression" in bad.output
    assert "unknown tool 'nope'" in box.call(ToolCall("nope", {})).output
    with pytest.raises(ToolError, match="division by zero"):
        box.run(ToolCall("calculator", {"expression": "1/0"}))


def test_a_broken_schema_is_refused_at_registration() -> None:
    from jsonschema.exceptions import SchemaError

    with pytest.raises(SchemaError):
        ToolBox([Tool("bad", "x", {"type": "no-such-type"}, lambda: None)])


def test_unit_conversion() -> None:
    box = _box(units_tool())
    out = box.run(ToolCall("convert_units", {"value": 5, "from": "km", "to": "mile"})).output
    assert out["value"] == pytest.approx(3.10686, rel=1e-5) and "mi" in out["unit"]
    assert box.run(ToolCall("convert_units", {"value": 100, "from": "degC", "to": "degF"})).output[
        "value"
    ] == pytest.approx(212)
    assert "different kinds" in box.call(ToolCall("convert_units", {"value": 1, "from": "kg", "to": "m"})).output
    assert "unknown unit" in box.call(ToolCall("convert_units", {"value": 1, "from": "blorp", "to": "m"})).output


def test_date_and_time() -> None:
    fixed = lambda tz: dt.datetime(2025, 3, 14, 9, 30, tzinfo=tz)  # noqa: E731
    box = _box(datetime_tool(fixed))
    out = box.run(ToolCall("datetime", {"timezone": "Europe/Paris"})).output
    assert out["date"] == "2025-03-14" and out["weekday"] == "Friday" and out["timezone"] == "Europe/Paris"
    out = box.run(ToolCall("datetime", {"date": "2025-01-31", "add_days": 30, "until": "2025-12-25"})).output
    assert out["result"] == {"date": "2025-03-02", "weekday": "Sunday"} and out["days_until"] == 328
    assert "unknown time zone" in box.call(ToolCall("datetime", {"timezone": "Mars/Base"})).output
    assert "not a date" in box.call(ToolCall("datetime", {"date": "14/03/2025"})).output


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    root = tmp_path / "allowed"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "todo.txt").write_text("buy milk\n")
    (tmp_path / "secret.txt").write_text("the password\n")
    return root


def test_read_file_inside_allowed_folders(allowed: Path) -> None:
    box = _box(read_file_tool([allowed]))
    assert box.run(ToolCall("read_file", {"path": "notes/todo.txt"})).output["text"] == "buy milk\n"
    assert box.run(ToolCall("read_file", {"path": str(allowed / "notes/todo.txt")})).output["text"] == "buy milk\n"


@pytest.mark.parametrize("path", ["../secret.txt", "notes/../../secret.txt", "SECRET_ABS", "/etc/passwd"])
def test_read_file_refuses_escapes(allowed: Path, path: str) -> None:
    path = str(allowed.parent / "secret.txt") if path == "SECRET_ABS" else path
    res = _box(read_file_tool([allowed])).call(ToolCall("read_file", {"path": path}))
    assert not res.ok and ("outside the allowed folders" in res.output or "'..'" in res.output)
    assert "password" not in res.text()


def test_read_file_refuses_symlinks_out_of_the_folder(allowed: Path) -> None:
    os.symlink(allowed.parent / "secret.txt", allowed / "link.txt")
    os.symlink(allowed.parent, allowed / "up")
    box = _box(read_file_tool([allowed]))
    for path in ("link.txt", "up/secret.txt"):
        res = box.call(ToolCall("read_file", {"path": path}))
        assert not res.ok and "outside the allowed folders" in res.output


def test_read_file_limits(allowed: Path) -> None:
    (allowed / "big.txt").write_text("x" * 5000)
    (allowed / "bin.dat").write_bytes(b"\x00\x01\x02")
    box = _box(read_file_tool([allowed], max_bytes=1000))
    out = box.run(ToolCall("read_file", {"path": "big.txt"})).output
    assert len(out["text"]) == 1000 and out["truncated"]
    assert "binary" in box.call(ToolCall("read_file", {"path": "bin.dat"})).output
    assert "not a file" in box.call(ToolCall("read_file", {"path": "notes"})).output
    assert "no folders are allowed" in _box(read_file_tool([])).call(ToolCall("read_file", {"path": "x"})).output


def test_write_file_needs_confirmation(allowed: Path) -> None:
    box = _box(write_file_tool([allowed]))
    call = ToolCall("write_file", {"path": "out/report.md", "content": "# hi\n"})
    res = box.call(call)  # default: refuse
    assert res.refused and not (allowed / "out" / "report.md").exists()
    asked: list[str] = []
    res = box.call(call, lambda tool, c: asked.append(tool.name) or True)
    assert res.ok and asked == ["write_file"] and (allowed / "out" / "report.md").read_text() == "# hi\n"
    assert "exists" in box.call(call, allow_all).output
    assert box.call(ToolCall("write_file", {**call.arguments, "overwrite": True, "content": "2"}), allow_all).ok
    escape = box.call(ToolCall("write_file", {"path": "../evil.txt", "content": "x"}), allow_all)
    assert not escape.ok and not (allowed.parent / "evil.txt").exists()
    assert refuse_all(write_file_tool([allowed]), call) is False


def test_search_documents_over_the_real_retriever(rrt: Any, tmp_path: Path) -> None:
    from edgeprompt.orchestrate.builtin_tools import default_toolbox

    box = default_toolbox(rrt.documents, rrt.settings.section("tools"))
    assert "no documents" in box.call(ToolCall("search_documents", {"query": "meetings"})).output
    doc = tmp_path / "docs" / "meetings.md"
    doc.parent.mkdir()
    doc.write_text(
        "# Project Atlas kickoff\n\nWe decided to ship the beta in May. Dana owns the budget.\n\n"
        "# Lunch\n\nThe cafeteria serves soup on Fridays.\n"
    )
    rrt.documents().indexer.add([doc])
    out = box.run(ToolCall("search_documents", {"query": "when does the Atlas beta ship?", "k": 2})).output
    assert out["hits"][0]["path"].endswith("meetings.md") and "May" in out["hits"][0]["text"]


def test_search_tool_passes_query_and_k() -> None:
    seen: list[tuple[str, int]] = []
    box = _box(search_tool(lambda q, k: seen.append((q, k)) or []))
    assert box.run(ToolCall("search_documents", {"query": "q"})).output == {"query": "q", "hits": []}
    assert seen == [("q", 5)]
    assert not box.call(ToolCall("search_documents", {"query": "q", "k": 99})).ok


def test_tools_cli(linked_home: Path, cli: Any, allowed: Path) -> None:
    from routing_helpers import write_config

    write_config(linked_home, f'[tools]\nallowed_folders = ["{allowed}"]\n')
    code, out, _ = cli("tools", "list", "--json")
    import json

    names = {t["name"]: t["side_effects"] for t in json.loads(out)}
    assert code == 0 and names == {
        "calculator": False,
        "convert_units": False,
        "datetime": False,
        "read_file": False,
        "search_documents": False,
        "write_file": True,
    }
    code, out, _ = cli("tools", "call", "calculator", '{"expression": "6*7"}', "--json")
    assert code == 0 and json.loads(out)["output"]["value"] == 42
    code, out, err = cli("tools", "call", "calculator", '{"expression": "__import__(1)"}')
    assert code == 2 and out == "" and "not allowed" in err and err.count("\n") == 1
    code, _, err = cli("tools", "call", "write_file", '{"path": "a.txt", "content": "x"}')
    assert code == 2 and "did not confirm" in err and not (allowed / "a.txt").exists()  # stdin is not a TTY
    code, _, _ = cli("tools", "call", "write_file", '{"path": "a.txt", "content": "x"}', "--yes")
    assert code == 0 and (allowed / "a.txt").read_text() == "x"
    code, _, err = cli("tools", "call", "calculator", "[1]")
    assert code == 2 and "JSON object" in err
