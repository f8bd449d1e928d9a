"""The pipeline renders its prompt from the registry and records the exact version in the trace."""

from __future__ import annotations

import json

import pytest

QA = """
name: qa
system: "Answer in {{ style }} style."
template: "Q: {{ question }}"
variables: {question: {type: string}, style: {type: string, default: plain}}
params: {max_tokens: 3}
tests:
  - vars: {question: hello}
    assert: [{type: contains, value: "Q: hello"}]
"""


def ask(cli, *argv):  # type: ignore[no-untyped-def]
    code, out, err = cli("ask", *argv, "-m", "echo", "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow  # runs the shipped prompt's test suite
def test_default_prompt_ships_and_is_pushed_on_first_use(cli, runtime) -> None:  # type: ignore[no-untyped-def]
    assert runtime.db.query_one("SELECT count(*) FROM prompts")[0] == 0
    res = ask(cli, "hello there")
    assert res["answer"] == "hello there"
    reg = runtime.registry()
    version, label = reg.lookup("assistant")
    assert label == "production" and version.author == "edgeprompt" and "offline" in version.spec.system
    trace = runtime.traces.get(res["trace_id"])
    assert trace["attributes"]["edgeprompt.prompt.name"] == "assistant"
    assert trace["attributes"]["edgeprompt.prompt.version"] == version.id
    assert trace["attributes"]["edgeprompt.prompt.label"] == "production"
    span = next(s for s in trace["spans"] if s["name"] == "prompt.render")
    assert span["attributes"]["edgeprompt.prompt.version"] == version.id
    ask(cli, "again")
    assert runtime.db.query_one("SELECT count(*) FROM prompt_versions")[0] == 1
    assert cli("prompts", "test", "assistant", "-m", "echo")[0] == 0  # the shipped suite passes


@pytest.mark.slow  # several asks through the pipeline
def test_prompt_option_and_version_params(cli, prompt_file, runtime) -> None:  # type: ignore[no-untyped-def]
    cli("prompts", "push", str(prompt_file(QA)))
    cli("prompts", "promote", "qa", "1", "--to", "production", "-m", "echo")
    res = ask(cli, "one two three four", "--prompt", "qa")
    assert res["answer"].strip() == "Q: one two" and res["finish_reason"] == "length"  # max_tokens 3 from the version
    res = ask(cli, "one two three four", "--prompt", "qa:production", "--max-tokens", "50")
    assert res["answer"] == "Q: one two three four"  # the command line wins
    pinned = ask(cli, "x", "--prompt", "qa@1")
    attrs = runtime.traces.get(pinned["trace_id"])["attributes"]
    assert attrs["edgeprompt.prompt.label"] is None and attrs["edgeprompt.prompt.seq"] == 1


def test_system_text_reaches_the_model(runtime, prompt_file) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.backends.base import Request
    from edgeprompt.backends.echo import EchoBackend
    from edgeprompt.pipeline import AskRequest, Done, run
    from edgeprompt.prompts.files import read_file

    reg = runtime.registry()
    reg.labels.move("qa", "production", reg.push(read_file(prompt_file(QA))[0], "t").version, "promote")
    seen: list[Request] = []
    original = EchoBackend.stream

    def spy(self, request):  # type: ignore[no-untyped-def]
        seen.append(request)
        return original(self, request)

    EchoBackend.stream = spy  # type: ignore[method-assign]
    try:
        done = [e for e in run(AskRequest("hi", model="echo", prompt="qa"), runtime) if isinstance(e, Done)]
    finally:
        EchoBackend.stream = original  # type: ignore[method-assign]
    # the version's system text comes first, unchanged (the firewall appends its isolation section after it)
    assert done and [m.role for m in seen[0].messages] == ["system", "user"]
    assert seen[0].messages[0].content.startswith("Answer in plain style.\n")
    assert seen[0].question == "Q: hi"  # the rendered user template, which the prompt wraps in its section
    assert seen[0].messages[1].content.splitlines()[1] == "Q: hi"
    assert seen[0].params.max_tokens == 3


def test_bad_prompt_choices_are_one_line_errors(cli, prompt_file) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("ask", "hi", "-m", "echo", "--prompt", "nope")
    assert code == 2 and "prompt 'nope'" in err and err.count("\n") == 1
    cli("prompts", "push", str(prompt_file()))
    code, _, err = cli("ask", "hi", "-m", "echo", "--prompt", "greet@1")
    assert code == 2 and "unknown variable 'question'" in err
    code, _, err = cli("ask", "hi", "-m", "echo", "--prompt", "greet:staging")
    assert code == 2 and "label 'staging' of prompt 'greet'" in err
