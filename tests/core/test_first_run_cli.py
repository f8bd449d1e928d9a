"""The first five minutes on the command line: what a new user meets before any setup."""

from __future__ import annotations

import io
import json
import re
import tomllib
from pathlib import Path

import pytest


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_fresh_home_general_question_says_how_to_get_a_model(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("ask", "what is the capital of France", "--json")
    answer = json.loads(out)["answer"]
    assert code == 0
    assert "no generative model is installed" in answer.lower()
    assert "edgeprompt setup" in answer and "models recommend" in answer and "docs add" in answer
    assert "pick a generative model with -m" not in answer


def test_the_footer_says_what_made_an_answer_no_model_decoded(cli) -> None:  # type: ignore[no-untyped-def]
    # a fixed note or a quote has no decode rate: "0.0 tok/s" would read as a stalled model
    _, out, err = cli("ask", "what is the capital of France")
    assert re.search(r"extractive · \d+ tokens · abstained · session", out + err) and "tok/s" not in out + err
    _, out, err = cli("ask", "what is the capital of France")  # the same note again, from the answer cache
    assert (out + err).count("cached") == 1 and "tok/s" not in out + err
    _, out, err = cli("ask", "one two three", "-m", "echo")
    assert "tok/s" in out + err


def test_each_plain_ask_is_kept_on_its_own_and_continue_keeps_one_chat(cli) -> None:  # type: ignore[no-untyped-def]
    # a plain ask is logged as its own conversation (feedback can edit its answer); -c continues the latest
    ids = [json.loads(cli("ask", "hello", "-m", "echo", "--json")[1])["session_id"] for _ in range(2)]
    assert all(ids) and len(set(ids)) == 2
    code, _, err = cli("ask", "hello", "-m", "echo", "--no-save")
    assert code == 0 and "not saved" in err
    first = json.loads(cli("ask", "remember the milk", "-m", "echo", "-c", "--json")[1])
    again = json.loads(cli("ask", "and the bread", "-m", "echo", "--continue", "--json")[1])
    assert first["session_id"] == ids[-1] and again["session_id"] == first["session_id"]
    rows = {r["id"]: r["turns"] for r in json.loads(cli("sessions", "list", "--json")[1])}
    assert rows == {ids[1]: 6}  # the continued one is a chat; the other one-off ask stays out of the list
    rows = {r["id"]: (r["kind"], r["turns"]) for r in json.loads(cli("sessions", "list", "--all", "--json")[1])}
    assert rows == {ids[0]: ("ask", 2), ids[1]: ("chat", 6)}


def test_system_text_reaches_the_model(cli) -> None:  # type: ignore[no-untyped-def]
    # echo answers with the last user message; the trace of the request shows the system text was rendered
    code, out, _ = cli("ask", "hi there", "-m", "echo", "-s", "Answer like a pirate.", "--json")
    assert code == 0 and json.loads(out)["context"]["system_tokens"] > 0


def test_dash_reads_plain_text_as_the_question(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _stdin(monkeypatch, "what does a plain question look like\n")
    code, out, _ = cli("ask", "-", "-m", "echo", "--json")
    assert code == 0 and json.loads(out)["answer"] == "what does a plain question look like"


def test_dash_still_reads_a_json_lines_batch(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _stdin(monkeypatch, '{"question": "one"}\n{"question": "two"}\n')
    code, out, _ = cli("ask", "-", "-m", "echo")
    assert code == 0 and [json.loads(x)["answer"] for x in out.splitlines()] == ["one", "two"]


def test_piped_text_is_the_context_of_the_question(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _stdin(monkeypatch, "# Notes\nThe boiler is serviced every March.\n")
    code, out, _ = cli("ask", "summarise", "-m", "echo", "--json")
    answer = json.loads(out)["answer"]
    assert code == 0 and answer.startswith("# Notes\nThe boiler is serviced every March.")
    assert answer.endswith("summarise")


def test_empty_stdin_question_is_a_clear_error(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _stdin(monkeypatch, "  \n")
    code, _, err = cli("ask", "-", "-m", "echo")
    assert code == 2 and "empty" in err and len(err.strip().splitlines()) == 1


def test_config_set_validates_and_keeps_the_file(cli, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("config", "set", "generation.max_tokens", "512", "--json")
    assert code == 0 and json.loads(out)["value"] == 512 and json.loads(out)["old"] == 256
    assert cli("config", "set", "trace.capture_content", "yes")[0] == 0
    path = Path(json.loads(cli("config", "path", "--json")[1])["path"])
    text = path.read_text()
    values = tomllib.loads(text)
    assert values["generation"]["max_tokens"] == 512 and values["trace"]["capture_content"] is True
    assert "# most tokens an answer may have" in text  # the documented defaults stay
    shown = json.loads(cli("config", "show", "--json")[1])["settings"]
    assert shown["generation"]["max_tokens"] == 512


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("generation.max_token", "5", "unknown setting"),
        ("nosuch.key", "5", "unknown setting"),
        ("generation.max_tokens", "many", "must be int"),
        ("trace.capture_content", "maybe", "true or false"),
    ],
)
def test_config_set_refuses_bad_input(cli, key: str, value: str, words: str) -> None:  # type: ignore[no-untyped-def]
    before = cli("config", "show", "--json")[1]
    code, out, err = cli("config", "set", key, value)
    assert code != 0 and words in err and out == ""
    assert cli("config", "show", "--json")[1] == before


PROMPT = """edgeprompt: 1
name: haiku
description: a haiku about a subject
template: "Write a haiku about {{ subject }}."
variables:
  subject: {type: string}
"""


def test_render_a_just_pushed_prompt_falls_back_to_its_latest_version(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "haiku.yaml"
    spec.write_text(PROMPT, encoding="utf-8")
    assert cli("prompts", "push", str(spec))[0] == 0
    code, out, err = cli("prompts", "render", "haiku", "--var", "subject=rain")
    assert code == 0 and "Write a haiku about rain." in out
    assert "no 'production' label yet" in err and "haiku@1" in err
    obj = json.loads(cli("prompts", "render", "haiku", "--var", "subject=rain", "--json")[1])
    assert obj["seq"] == 1 and obj["label"] is None and "latest version" in obj["note"]
    code, _, err = cli("prompts", "render", "haiku:production", "--var", "subject=rain")
    assert code != 0 and "production" in err  # a label named outright is not guessed


def test_the_shipped_prompt_passes_its_own_tests_on_the_default_model(cli) -> None:  # type: ignore[no-untyped-def]
    cli("ask", "hello", "-m", "echo")  # the first use pushes the shipped prompt
    code, out, _ = cli("prompts", "test", "assistant", "--json")
    suite = json.loads(out)
    assert code == 0 and suite["passed"] and suite["model"] == "extractive"


def test_models_list_and_info_read_as_tables(cli) -> None:  # type: ignore[no-untyped-def]
    lines = cli("models", "list")[1].splitlines()
    assert lines[0].split() == ["ID", "BACKEND", "FOLDERS", "QUANT", "CONTEXT", "TAGS"]
    # the test fake is not a model the user has: listed on request only, and not in doctor's report
    assert not any(line.split()[0] == "echo" for line in lines[1:-1]) and "--all" in lines[-1]
    assert "echo" in [line.split()[0] for line in cli("models", "list", "--all")[1].splitlines()[1:-1]]
    assert "echo" not in [m["id"] for m in json.loads(cli("models", "list", "--json")[1])["models"]]
    assert "model echo" not in [c["name"] for c in json.loads(cli("doctor", "--json")[1])["checks"]]
    code, out, _ = cli("models", "info", "extractive")
    assert code == 0 and not out.lstrip().startswith("{")
    rows = dict(line.split(None, 1) for line in out.splitlines())
    assert rows["id"] == "extractive" and rows["backend"] == "extractive"
    assert json.loads(cli("models", "info", "extractive", "--json")[1])["id"] == "extractive"
