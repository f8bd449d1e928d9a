"""The `prompts` commands against a fresh data home: flows, --json shapes, and bad input."""

from __future__ import annotations

import json

import pytest


def j(cli, *argv):  # type: ignore[no-untyped-def]
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_push_show_history_diff_list(cli, prompt_file) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.prompts.files import read_file

    path = prompt_file()
    expected = read_file(path)[0].content_id()
    assert j(cli, "prompts", "push", str(path)) == {"name": "greet", "version": expected, "seq": 1, "created": True}
    again = j(cli, "prompts", "push", str(path))
    assert again["created"] is False and again["seq"] == 1
    changed = path.read_text().replace("warmly", "kindly")
    v2 = j(cli, "prompts", "push", str(prompt_file(changed)), "--message", "kinder", "--author", "ada")
    assert v2["created"] and v2["seq"] == 2
    shown = j(cli, "prompts", "show", "greet@2")
    assert shown["version"] == v2["version"] and shown["message"] == "kinder" and shown["author"] == "ada"
    assert shown["content"]["template"] == "Please greet {{ name }} kindly."
    hist = j(cli, "prompts", "history", "greet")
    assert [v["seq"] for v in hist["versions"]] == [1, 2] and hist["moves"] == []
    diff = j(cli, "prompts", "diff", "greet", "1", "2")
    assert diff["changed"] == ["template"]
    assert "-template: Please greet {{ name }} warmly." in diff["diff"]
    assert "+template: Please greet {{ name }} kindly." in diff["diff"]
    listed = j(cli, "prompts", "list")
    assert [(p["name"], p["versions"]) for p in listed] == [("greet", 2)]
    code, out, _ = cli("prompts", "show", "greet@1")
    assert code == 0 and out.startswith("# greet@1 ") and "template: Please greet" in out


def test_promote_rollback_and_show_by_label(cli, prompt_file) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    j(cli, "prompts", "push", str(prompt_file(prompt_file().read_text().replace("warmly", "kindly"))))
    first = j(cli, "prompts", "promote", "greet", "1", "--to", "production", "-m", "echo")
    assert first["tested"] and first["passed"] and first["suite"]["total"] == 1
    j(cli, "prompts", "promote", "greet", "2", "--to", "production", "-m", "echo")
    assert j(cli, "prompts", "show", "greet")["seq"] == 2
    assert j(cli, "prompts", "show", "greet:production")["label"] == "production"
    back = j(cli, "prompts", "rollback", "greet", "--label", "production")
    assert back["seq"] == 1 and back["action"] == "rollback"
    assert j(cli, "prompts", "show", "greet")["seq"] == 1
    code, _, err = cli("prompts", "rollback", "greet", "--label", "production")
    assert code == 2 and "no earlier version" in err
    assert [m["action"] for m in j(cli, "prompts", "history", "greet")["moves"]] == ["promote", "promote", "rollback"]


def test_protected_label_needs_yes(cli, prompt_file) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    j(cli, "prompts", "push", str(prompt_file(prompt_file().read_text().replace("warmly", "kindly"))))
    j(cli, "prompts", "promote", "greet", "1", "--to", "production", "-m", "echo")
    assert j(cli, "prompts", "protect", "greet", "--label", "production")["protected"]
    code, _, err = cli("prompts", "promote", "greet", "2", "--to", "production", "-m", "echo")
    assert code == 2 and "Label 'production' of 'greet' is protected; confirm with --yes" in err
    assert j(cli, "prompts", "show", "greet")["seq"] == 1
    assert cli("prompts", "unprotect", "greet", "--label", "production")[0] == 2
    j(cli, "prompts", "promote", "greet", "2", "--to", "production", "-m", "echo", "--yes")
    assert j(cli, "prompts", "show", "greet")["seq"] == 2
    assert j(cli, "prompts", "list")[0]["protected"] == ["production"]


def test_render_command(cli, prompt_file) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    r = j(cli, "prompts", "render", "greet@1", "--var", "name=Ada")
    assert r["user"] == "Please greet Ada warmly." and r["params"] == {"max_tokens": 128, "temperature": 0.2}
    code, _, err = cli("prompts", "render", "greet@1", "--var", "name=5")
    assert code == 2 and "variable 'name' must be string, got integer" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("prompts", "show", "nope"), "prompt 'nope'"),
        (("prompts", "show", "greet@7"), "version '7' of prompt 'greet'"),
        (("prompts", "show", "greet:staging"), "label 'staging' of prompt 'greet'"),
        (("prompts", "show", "bad name"), "is not valid"),
        (("prompts", "history", "nope"), "prompt 'nope'"),
        (("prompts", "diff", "greet", "1", "9"), "version '9'"),
        (("prompts", "promote", "greet", "1", "--to", "bad label!", "-m", "echo"), "label 'bad label!' is not valid"),
        (("prompts", "promote", "greet", "1", "--to", "x", "-m", "nomodel"), "Unknown model 'nomodel'"),
        (("prompts", "rollback", "greet", "--label", "production"), "label 'production' of prompt 'greet'"),
        (("prompts", "test", "nope", "-m", "echo"), "prompt 'nope'"),
        (("prompts", "render", "greet@1", "--var", "oops"), "expected KEY=VALUE"),
        (("prompts", "render", "greet@1", "--var", "nam=x"), "unknown variable 'nam'"),
        (("prompts", "ab", "status", "greet"), "A/B test of prompt 'greet'"),
        (("prompts", "import", "/nonexistent/folder"), "is not a folder"),
    ],
)
def test_bad_commands_fail_with_one_line_and_keep_data(cli, prompt_file, runtime, argv, message) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    code, out, err = cli(*argv)
    assert code == 2 and out == "" and message in err and err.count("\n") == 1, err
    assert runtime.db.query_one("SELECT count(*) FROM prompt_versions")[0] == 1
    assert runtime.db.query_one("PRAGMA integrity_check")[0] == "ok"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: greet\ntemplate: [unclosed\n", "not valid YAML"),
        ("edgeprompt: 9\nname: greet\ntemplate: hi\n", "newer edgeprompt"),
        ("name: greet\ntemplate: 'Hi {{ nam }}'\nvariables: {name: string}\n", "undeclared variable 'nam'"),
        ("name: greet\ntemplate: hi\nparams: {temperature: hot}\n", "param 'temperature' must be number"),
    ],
)
def test_bad_files_store_nothing(cli, prompt_file, runtime, text, message) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    code, _, err = cli("prompts", "push", str(prompt_file(text)))
    assert code == 2 and message in err and err.count("\n") == 1
    assert runtime.db.query_one("SELECT count(*) FROM prompt_versions")[0] == 1


def test_every_command_has_json_and_text(cli, prompt_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    for argv in (
        ("prompts", "list"),
        ("prompts", "history", "greet"),
        ("prompts", "diff", "greet", "1", "1"),
        ("prompts", "stats", "greet"),
        ("prompts", "test", "greet", "-m", "echo"),
        ("prompts", "export", str(tmp_path / "out")),
    ):
        code, out, _ = cli(*argv)
        assert code == 0 and out.strip() and not out.startswith("{")
        j(cli, *argv)
