"""`edgeprompt feedback` and `observe preferences`: happy paths and one-line errors that store nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeprompt.app import Runtime
from edgeprompt.store.traces import Trace, TraceLog


def _ask(cli: Any, question: str, *extra: str) -> dict[str, Any]:
    code, out, err = cli("ask", "-m", "echo", "--json", question, *extra)
    assert code == 0, err
    return json.loads(out)


def _feedback_rows(home: Path) -> list[Any]:
    with Runtime.open(home) as rt:
        assert rt.db.query_one("PRAGMA integrity_check")[0] == "ok"
        return [dict(r) for r in rt.db.query("SELECT * FROM feedback ORDER BY id")]


def test_thumbs_comment_and_edits_are_stored_as_evaluation_events(cli: Any, data_home: Path, tmp_path: Path) -> None:
    res = _ask(cli, "How often do I water basil on a balcony?")
    tid = res["trace_id"]
    code, out, err = cli("feedback", tid[:8], "up", "--comment", "clear", "--json")
    assert code == 0, err
    ev = json.loads(out)
    assert ev["trace_id"] == tid and ev["event"] == "gen_ai.evaluation.result"
    assert ev["gen_ai.evaluation.score.value"] == 1 and ev["gen_ai.evaluation.score.label"] == "up"
    assert ev["gen_ai.evaluation.explanation"] == "clear"

    code, out, err = cli("feedback", tid, "--edit", res["answer"] + " Every two days.", "--json")
    assert code == 0, err
    assert json.loads(out)["edit_distance"] == len(" Every two days.")
    edited = tmp_path / "better.txt"
    edited.write_text("Water basil when the top soil is dry.", encoding="utf-8")
    code, out, err = cli("feedback", tid, "down", "--edit-file", str(edited))
    assert code == 0, err
    assert "recorded thumbs down" in out and "recorded edit" in out

    rows = _feedback_rows(data_home)
    assert [(r["kind"], r["score"]) for r in rows] == [("thumbs", 1), ("edit", None), ("thumbs", -1), ("edit", None)]
    assert rows[3]["original"] == res["answer"] and rows[3]["edited"] == edited.read_text()

    pairs_file = tmp_path / "pairs.jsonl"
    code, out, err = cli("observe", "preferences", "-o", str(pairs_file), "--json")
    assert code == 0 and json.loads(out)["pairs"] == 2
    pairs = [json.loads(line) for line in pairs_file.read_text().splitlines()]
    assert pairs[1] == {
        **pairs[1],
        "trace_id": tid,
        "prompt": "How often do I water basil on a balcony?",
        "chosen": edited.read_text(),
        "rejected": res["answer"],
    }


def test_an_answer_asked_without_saving_needs_the_original_for_an_edit(cli: Any, data_home: Path) -> None:
    tid = _ask(cli, "Is it safe to visit Morocco by train?", "--no-save")["trace_id"]
    code, _, err = cli("feedback", tid, "--edit", "Yes, mostly.")
    assert code == 2 and "was not kept" in err and "--original" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("feedback", tid, "--edit", "Yes, mostly.", "--original", "Is it safe?")
    assert code == 0, err
    assert _feedback_rows(data_home)[0]["edit_distance"] is not None


def test_bad_feedback_is_a_one_line_error_and_stores_nothing(cli: Any, data_home: Path, tmp_path: Path) -> None:
    tid = _ask(cli, "What fertiliser is best for roses?")["trace_id"]
    with Runtime.open(data_home) as rt:  # two traces whose ids share a prefix
        for suffix in ("1", "2"):
            TraceLog(rt.db).save(Trace(id="abcd" + suffix * 28))
    cases = [
        (("feedback", "0123456789abcdef", "up"), "Not found: trace"),
        (("feedback", "not-hex!", "up"), "is not a trace id"),
        (("feedback", "abcd", "up"), "ambiguous"),
        (("feedback", "ab", "up"), "too short"),
        (("feedback", tid), "say up or down"),
        (("feedback", tid, "--edit", "   "), "empty"),
        (("feedback", tid, "--edit-file", str(tmp_path / "missing.txt")), "no such file"),
        (("feedback", tid, "up", "--original", "x"), "--original goes with --edit"),
    ]
    for argv, message in cases:
        code, _, err = cli(*argv)
        assert code == 2, argv
        assert message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert _feedback_rows(data_home) == []
