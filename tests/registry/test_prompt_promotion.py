"""Test suites through a real backend (echo), promotion gated on them, --force audited, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from edgeprompt.prompts.spec import parse_spec

FAILING = """
name: greet
template: "Please greet {{ name }} warmly."
variables: {name: {type: string}}
tests:
  - vars: {name: Ada}
    assert: [{type: contains, value: Ada}]
  - name: wants another name
    vars: {name: Ada}
    assert: [{type: contains, value: Grace}, {type: not-contains, value: warmly}]
"""


def label_of(runtime, name="greet", label="production"):  # type: ignore[no-untyped-def]
    row = runtime.db.query_one("SELECT version_id FROM prompt_labels WHERE prompt = ? AND label = ?", (name, label))
    return row and row[0]


def test_failing_suite_refuses_promotion(cli, prompt_file, runtime) -> None:  # type: ignore[no-untyped-def]
    cli("prompts", "push", str(prompt_file()))
    assert cli("prompts", "promote", "greet", "1", "--to", "production", "-m", "echo")[0] == 0
    cli("prompts", "push", str(prompt_file(FAILING)))
    code, out, err = cli("prompts", "test", "greet@2", "-m", "echo", "--json")
    suite = json.loads(out)
    assert code == 1 and not suite["passed"] and suite["failed"] == 1
    assert suite["cases"][1]["failures"] == [
        "contains 'Grace': not in answer 'Please greet Ada warmly.'",
        "not-contains 'warmly': found in answer",
    ]
    code, out, err = cli("prompts", "promote", "greet", "2", "--to", "production", "-m", "echo")
    assert code == 2 and out == ""
    assert err.strip() == (
        "edgeprompt: Promotion refused: greet@2 failed 1 of 2 tests on echo; test 2: "
        "contains 'Grace': not in answer 'Please greet Ada warmly.'"
    )
    assert label_of(runtime) == runtime.registry().resolve("greet", "1").id


def test_force_promotes_and_is_audited(cli, prompt_file, runtime) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.store.audit import AuditLog

    cli("prompts", "push", str(prompt_file(FAILING)))
    code, out, _ = cli("prompts", "promote", "greet", "1", "--to", "production", "-m", "echo", "--force", "--json")
    done = json.loads(out)
    assert code == 0 and done["forced"] and not done["passed"]
    entry = AuditLog(runtime.db).entries(kind="prompt.promote.force")[0]
    assert entry.data["version"] == done["version"] and entry.data["suite_passed"] is False
    assert "failed 1 of 2" in entry.data["reason"]
    assert AuditLog(runtime.db).verify().ok
    assert runtime.registry().labels.moves("greet")[-1].forced


def test_a_suite_that_passed_on_the_model_is_not_rerun(cli, prompt_file, runtime) -> None:  # type: ignore[no-untyped-def]
    cli("prompts", "push", str(prompt_file()))
    assert cli("prompts", "test", "greet", "-m", "echo")[0] == 0
    code, out, _ = cli("prompts", "promote", "greet", "1", "--to", "staging", "-m", "echo", "--json")
    assert code == 0 and json.loads(out)["tested"] is False
    assert runtime.db.query_one("SELECT count(*) FROM prompt_test_runs")[0] == 1


def test_a_version_without_tests_is_not_promoted(cli, prompt_file) -> None:  # type: ignore[no-untyped-def]
    cli("prompts", "push", str(prompt_file("name: bare\ntemplate: hello\n")))
    code, _, err = cli("prompts", "promote", "bare", "1", "--to", "production", "-m", "echo")
    assert code == 2 and "bare@1 has no tests" in err


def test_json_and_token_assertions(runtime) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.prompts.suite import run_suite

    reg = runtime.registry()
    doc = {
        "name": "j",
        "template": '{"name": "{{ name }}", "age": {{ age }}}',
        "variables": {"name": "string", "age": "integer"},
        "output_schema": {
            "type": "object",
            "required": ["name", "age"],
            "properties": {"age": {"type": "integer", "minimum": 0}},
        },
        "tests": [
            {
                "vars": {"name": "Ada", "age": 36},
                "assert": [
                    {"type": "is-json"},
                    {"type": "json-schema"},
                    {"type": "max-tokens", "value": 4},
                    {"type": "regex", "value": '"age": \\d+'},
                ],
            },
            {"vars": {"name": "Bob", "age": -1}, "assert": [{"type": "json-schema"}]},
            {"vars": {"name": "Cy", "age": 1}, "assert": [{"type": "max-tokens", "value": 2}]},
        ],
    }
    v = reg.get(reg.push(parse_spec(doc, "j"), "t").version)
    suite = run_suite(runtime.suite_parts(), reg, v, "echo")
    assert [c.passed for c in suite.cases] == [True, False, False]
    assert suite.cases[1].failures == ("json-schema: at age: -1 is less than the minimum of 0",)
    assert suite.cases[2].failures == ("max-tokens 2: answer has 4 tokens",)


def test_similar_uses_minilm(runtime) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.prompts.suite import run_suite

    reg = runtime.registry()
    doc = {
        "name": "s",
        "template": "{{ q }}",
        "variables": {"q": "string"},
        "tests": [
            {
                "vars": {"q": "The cat sat on the mat."},
                "assert": [{"type": "similar", "value": "A cat is sitting on a mat.", "threshold": 0.7}],
            },
            {
                "vars": {"q": "Quarterly revenue grew by four percent."},
                "assert": [{"type": "similar", "value": "A cat is sitting on a mat."}],
            },
        ],
    }
    suite = run_suite(runtime.suite_parts(), reg, reg.get(reg.push(parse_spec(doc, "s"), "t").version), "echo")
    assert suite.cases[0].passed and not suite.cases[1].passed
    assert suite.cases[1].failures[0].startswith("similar: cosine ") and "< 0.8 to" in suite.cases[1].failures[0]


def test_firewall_clean(runtime) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.prompts.suite import run_suite

    reg = runtime.registry()
    doc = {
        "name": "f",
        "template": "{{ q }}",
        "variables": {"q": "string"},
        "tests": [{"vars": {"q": "The weather is mild today."}, "assert": [{"type": "firewall-clean"}]}],
    }
    v = reg.get(reg.push(parse_spec(doc, "f"), "t").version)
    assert run_suite(runtime.suite_parts(), reg, v, "echo").passed


KILLER = r"""
import sys, time
from pathlib import Path
marker, phase = Path(sys.argv[1]), sys.argv[2]
import edgeprompt.cli as cli
import edgeprompt.prompts.labels as labels
if phase == "inside":  # stop inside the transaction, after the pointer and history rows are written
    original = labels._record
    def slow(conn, move):
        original(conn, move)
        marker.write_text("inside")
        time.sleep(120)
    labels._record = slow
else:  # stop after the commit, before the command reports
    def slow_emit(self, *a, **k):
        marker.write_text("after")
        time.sleep(120)
    cli.Context.emit = slow_emit
sys.exit(cli.main(["prompts", "promote", "greet", "2", "--to", "production", "-m", "echo"]))
"""


@pytest.mark.parametrize("phase", ["inside", "after"])
def test_kill_9_during_promotion_leaves_old_or_new(cli, prompt_file, tmp_path, data_home, phase) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.store.migrate import open_db

    cli("prompts", "push", str(prompt_file()))
    cli("prompts", "promote", "greet", "1", "--to", "production", "-m", "echo")
    cli("prompts", "push", str(prompt_file(prompt_file().read_text().replace("warmly", "kindly"))))
    assert cli("prompts", "test", "greet@2", "-m", "echo")[0] == 0
    marker = tmp_path / "marker"
    env = {**os.environ, "EDGEPROMPT_HOME": str(data_home)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLER, str(marker), phase], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no marker"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = open_db(data_home / "edgeprompt.db")
    try:
        assert db.query_one("PRAGMA integrity_check")[0] == "ok"
        ids = {r[0]: r[1] for r in db.query("SELECT seq, id FROM prompt_versions WHERE prompt = 'greet'")}
        now = db.query_one("SELECT version_id FROM prompt_labels WHERE prompt = 'greet' AND label = 'production'")[0]
        assert now == (ids[1] if phase == "inside" else ids[2])
        last = db.query_one("SELECT to_version FROM prompt_label_moves ORDER BY id DESC LIMIT 1")[0]
        assert last == now  # the history agrees with the pointer
    finally:
        db.close()
