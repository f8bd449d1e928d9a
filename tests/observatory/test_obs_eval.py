"""eval run / compare / list: a golden set through the pipeline, stored, and regressions found."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeprompt.app import Runtime
from edgeprompt.observatory.evals import _VERDICT, load_suite

SUITE = """
name: smoke
model: echo
cases:
  - id: capital
    input: The capital of France is Paris.
    assert:
      - {type: contains, value: Paris}
      - {type: max-tokens, value: {max_tokens}}
  - id: json
    input: '{"a": 1}'
    assert:
      - {type: is-json}
      - {type: regex, value: '"a"'}
  - id: judged
    input: Say hello
    rubric: Greets the user.
"""


def _suite(tmp_path: Path, max_tokens: int) -> Path:
    p = tmp_path / f"suite-{max_tokens}.yaml"
    p.write_text(SUITE.replace("{max_tokens}", str(max_tokens)), encoding="utf-8")
    return p


def test_runs_are_stored_and_compare_reports_the_regression(cli: Any, tmp_path: Path, data_home: Path) -> None:
    code, out, err = cli("eval", "run", str(_suite(tmp_path, 20)), "--json")
    assert code == 1, err  # the rubric case fails: the echo "judge" does not say PASS
    a = json.loads(out)
    assert (a["cases"], a["passed"], a["model"], a["status"]) == (3, 2, "echo", "done")
    res = {r["case_id"]: r for r in a["results"]}
    assert res["capital"]["passed"] and res["capital"]["score"] == 1.0 and res["capital"]["output_tokens"] == 6
    assert [c["type"] for c in res["json"]["checks"]] == ["is-json", "regex"]
    assert res["judged"]["checks"][0]["type"] == "rubric" and "unclear" in res["judged"]["checks"][0]["detail"]
    assert "[3/3] FAIL judged" in err

    code, out, err = cli("eval", "run", str(_suite(tmp_path, 3)), "-m", "echo", "--json")
    b = json.loads(out)
    assert b["passed"] == 1
    code, out, err = cli("eval", "compare", a["id"][:6], "latest", "--json")
    assert code == 1, err  # a regression: the gate fails
    cmp = json.loads(out)
    assert cmp["summary"] == {
        "regressed": 1,
        "fixed": 0,
        "improved": 0,
        "passing": 1,
        "failing": 1,
        "new": 0,
        "removed": 0,
    }
    (reg,) = cmp["regressions"]
    assert reg["case_id"] == "capital" and reg["a"] == {"passed": True, "score": 1.0}
    assert reg["b"] == {"passed": False, "score": 0.5} and reg["failed_checks"] == ["max-tokens 3: answer has 6 tokens"]
    assert cmp["same_suite"] is False

    code, out, _ = cli("eval", "compare", "latest", "latest")
    assert code == 0 and "0 regressed" not in out
    code, out, _ = cli("eval", "list", "--json")
    assert [r["id"] for r in json.loads(out)] == [b["id"], a["id"]]
    with Runtime.open(data_home) as rt:  # eval traffic is kept out of the real-use report
        from edgeprompt.observatory.report import build_report

        assert rt.db.query_one("SELECT count(*) FROM traces")[0] == 6
        assert build_report(rt.db, rt.settings.section("observatory"), 0.0)["requests"] == 0


def test_judge_verdicts_are_read_from_the_first_word() -> None:
    assert _VERDICT.match("PASS").group(1) == "PASS"
    assert _VERDICT.match("  fail: it does not greet").group(1) == "fail"
    assert _VERDICT.match("**Pass**") is not None
    assert _VERDICT.match("It passes") is None and _VERDICT.match("PASSED") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cases: []", "non-empty 'cases' list"),
        ("name: x\ncases:\n  - {input: hi}", "needs an assertion or a rubric"),
        ("cases:\n  - {input: hi, assert: [{type: contains}]}", "needs a non-empty string value"),
        ("cases:\n  - {input: hi, assert: [{type: nope}]}", "each assertion needs a type"),
        ("cases:\n  - {id: a, input: hi, rubric: r}\n  - {id: a, input: ho, rubric: r}", "used twice"),
        ("cases:\n  - {input: hi, rubric: r, extra: 1}", "unknown key 'extra'"),
        ("bogus: 1\ncases:\n  - {input: hi, rubric: r}", "unknown key 'bogus'"),
        ("cases: [\n", "not valid YAML"),
    ],
)
def test_bad_suites_are_one_line_errors(tmp_path: Path, cli: Any, text: str, message: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text, encoding="utf-8")
    code, _, err = cli("eval", "run", str(p))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(Exception, match=r"bad\.yaml"):
        load_suite(p)


def test_bad_runs_and_references_are_one_line_errors(tmp_path: Path, cli: Any) -> None:
    suite = str(_suite(tmp_path, 5))
    for argv, message in [
        (("eval", "run", str(tmp_path / "nope.yaml")), "cannot read"),
        (("eval", "run", suite, "-m", "nosuch"), "Unknown model 'nosuch'"),
        (("eval", "run", suite, "--prompt", "nosuch:production"), "prompt 'nosuch'"),
        (("eval", "compare", "abc", "latest"), "eval run 'abc'"),
        (("eval", "compare", "previous", "latest"), "there are 0 runs"),
    ]:
        code, _, err = cli(*argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    code, out, _ = cli("eval", "list")
    assert out.strip() == "no eval runs yet"
