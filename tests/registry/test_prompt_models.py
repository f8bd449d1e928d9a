"""Prompt files: validation with one-line errors, canonical content and content ids."""

from __future__ import annotations

import pytest

from edgeprompt.errors import TemplateError, UsageError
from edgeprompt.prompts.files import dump, parse_yaml, read_file
from edgeprompt.prompts.spec import check_values, parse_spec

BASE = {"name": "greet", "template": "Hi {{ name }}", "variables": {"name": {"type": "string"}}}


def spec(**changes):  # type: ignore[no-untyped-def]
    return parse_spec({**BASE, **changes}, "t.yaml")


def test_the_issue_example_parses(prompt_file) -> None:  # type: ignore[no-untyped-def]
    s, meta = read_file(prompt_file())
    assert s.name == "greet" and s.system == "You are a friendly assistant."
    assert s.params == {"temperature": 0.2, "max_tokens": 128}
    assert s.variables[0].name == "name" and s.variables[0].required
    assert s.tests[0].asserts[0].type == "contains" and s.tests[0].asserts[0].value == "Ada"
    assert meta == {}


def test_content_id_is_stable_and_changes_with_any_content() -> None:
    a = spec()
    assert a.content_id() == spec().content_id() and len(a.content_id()) == 16
    assert spec(description="x").content_id() != a.content_id()
    assert spec(template="Hello {{ name }}").content_id() != a.content_id()
    # 1 and 1.0 are one temperature: one id
    assert spec(params={"temperature": 1}).content_id() == spec(params={"temperature": 1.0}).content_id()


def test_dump_round_trips_to_the_same_content() -> None:
    s = spec(system="line one\nline two", params={"stop": ["\n\n"]}, description="d")
    again = parse_spec(parse_yaml(dump(s), "dumped"), "dumped")
    assert again.content() == s.content() and again.content_id() == s.content_id()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "bad name!"}, "prompt name 'bad name!' is not valid"),
        ({"template": None}, "'template' is required"),
        ({"template": 3}, "'template' must be a string, got integer"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"edgeprompt": 2}, "newer edgeprompt"),
        ({"variables": {"name": {"type": "str"}}}, "needs a type, one of string"),
        ({"variables": {"name": {"type": "integer", "default": "x"}}}, "default of variable 'name' must be integer"),
        ({"params": {"temprature": 0.1}}, "unknown generation parameter 'temprature'"),
        ({"params": {"top_p": 2}}, "param 'top_p' must be number in (0, 1]"),
        ({"params": {"max_tokens": True}}, "param 'max_tokens' must be integer"),
        ({"output_schema": {"type": "nonsense"}}, "invalid JSON schema"),
        ({"tests": [{"vars": {"nme": "x"}, "assert": [{"type": "contains", "value": "x"}]}]}, "unknown variable 'nme'"),
        (
            {"tests": [{"vars": {"name": 5}, "assert": [{"type": "contains", "value": "x"}]}]},
            "variable 'name' must be string, got integer",
        ),
        ({"tests": [{"vars": {"name": "x"}, "assert": [{"type": "smells-nice"}]}]}, "needs a type, one of contains"),
        ({"tests": [{"vars": {"name": "x"}, "assert": [{"type": "regex", "value": "("}]}]}, "does not compile"),
        ({"tests": [{"vars": {"name": "x"}, "assert": [{"type": "json-schema"}]}]}, "needs the prompt's output_schema"),
        ({"tests": [{"vars": {"name": "x"}, "assert": []}]}, "'assert' must be a non-empty list"),
    ],
)
def test_bad_documents_are_one_line_errors(changes, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as e:
        spec(**changes)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_templates_are_checked_at_push() -> None:
    with pytest.raises(TemplateError, match="undeclared variable 'nam'"):
        spec(template="Hi {{ nam }}")
    with pytest.raises(TemplateError, match="line 1"):
        spec(template="Hi {% if %}")
    loops = spec(
        template="{% for x in items %}{{ x }}{{ loop.index }}{% endfor %}{{ name }}",
        variables={"name": {"type": "string"}, "items": {"type": "list", "default": []}},
    )
    assert [v.name for v in loops.variables] == ["name", "items"]


def test_values_merge_defaults_and_name_the_problem() -> None:
    s = spec(variables={"name": "string", "n": {"type": "integer", "default": 2}}, template="{{ name }}{{ n }}")
    assert check_values("w", s.variables, {"name": "a"}) == {"name": "a", "n": 2}
    with pytest.raises(UsageError, match="missing variable 'name'"):
        check_values("w", s.variables, {})
    with pytest.raises(UsageError, match="variable 'n' must be integer, got boolean"):
        check_values("w", s.variables, {"name": "a", "n": True})


def test_malformed_yaml_and_unreadable_files(prompt_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"line \d+ not valid YAML"):
        read_file(prompt_file("name: greet\ntemplate: [unclosed\n"))
    with pytest.raises(UsageError, match="a mapping"):
        read_file(prompt_file("- just\n- a list\n"))
    with pytest.raises(UsageError, match="cannot read"):
        read_file(tmp_path / "missing.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_file(binary)
