"""`edgeprompt route` contract, the pipeline's route stage, and decisions + thumbs exported as training data."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from routing_helpers import card, write_config

from edgeprompt.routing.rules import TAGS


def test_route_text_json(linked_home: Path, cli: Any) -> None:
    code, out, err = cli("route", "What is 17% of 340?", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert set(d) == {"route", "model", "scores", "rules", "reason"}
    assert d["route"] == "math" and set(d["scores"]) == set(TAGS) and isinstance(d["rules"], list)


def test_route_text_human(linked_home: Path, cli: Any) -> None:
    code, out, _ = cli("route", "@legal can my landlord keep my deposit?")
    assert code == 0 and out.startswith("legal → ") and "explicit @legal" in out


def test_route_jsonl_in_jsonl_out(linked_home: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [
        json.dumps({"text": "fix my Python traceback", "id": "a"}),
        json.dumps({"text": "tell me a joke"}),
        "not json",
        json.dumps({"question": "wrong key"}),
        json.dumps({"text": "  "}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = cli("route", "-")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 2 and len(rows) == 5
    assert rows[0]["id"] == "a" and rows[0]["route"] == "code"
    assert rows[1]["route"] == "general"
    assert "not JSON" in rows[2]["error"] and '"text"' in rows[3]["error"] and "empty" in rows[4]["error"]


def test_route_bad_input_is_one_line_and_exit_2(linked_home: Path, cli: Any) -> None:
    code, out, err = cli("route")
    assert code == 2 and out == "" and err.count("\n") == 1
    code, _, err = cli("route", "   ")
    assert code == 2 and "empty" in err


@pytest.mark.slow  # an evaluation of a shipped model on a held-out set: it changes when the model does
def test_route_eval_reports_held_out_accuracy(linked_home: Path, cli: Any) -> None:
    code, out, _ = cli("route", "--eval", "--json")
    report = json.loads(out)
    assert code == 0 and report["split"] == "test" and report["accuracy"] >= 0.9 and report["head"] == "shipped"


def _two_models(home: Path) -> None:
    write_config(home, '[model]\ndefault = "echo"\n')


def test_ask_routes_strips_the_tag_and_records_the_decision(linked_home: Path, cli: Any) -> None:
    from edgeprompt.app import Runtime

    _two_models(linked_home)
    with Runtime.open(linked_home) as rt:
        rt.catalog.add(card("coder", ("code",)))
    code, out, err = cli("ask", "@code print hello in rust", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["model"] == "coder" and "@code" not in res["answer"] and "print hello in rust" in res["answer"]
    with Runtime.open(linked_home) as rt:
        trace = rt.traces.get(res["trace_id"])
        span = next(s for s in trace["spans"] if s["name"] == "route")
        assert span["attributes"]["edgeprompt.route.tag"] == "code"
        assert span["attributes"]["edgeprompt.route.model"] == "coder"
        assert "explicit @code" in span["attributes"]["edgeprompt.route.reason"]
        row = rt.db.query_one("SELECT * FROM route_decisions WHERE trace_id = ?", (res["trace_id"],))
        assert row["tag"] == "code" and row["text"] == "print hello in rust" and row["source"] == "ask"


def test_ask_with_m_does_not_route(linked_home: Path, cli: Any) -> None:
    _two_models(linked_home)
    code, out, _ = cli("ask", "@math what is two plus two", "-m", "echo", "--json")
    res = json.loads(out)
    assert code == 0 and res["model"] == "echo" and "@math" not in res["answer"]
    from edgeprompt.app import Runtime

    with Runtime.open(linked_home) as rt:
        assert rt.db.query_one("SELECT count(*) FROM route_decisions")[0] == 0


def test_one_installed_model_skips_the_classifier(rrt: Any) -> None:
    from edgeprompt.pipeline import AskRequest, Done, run

    events = list(run(AskRequest("@legal hello there"), rrt))
    assert isinstance(events[-1], Done)
    result = events[-1].result
    span = next(s for s in rrt.traces.get(result.trace_id)["spans"] if s["name"] == "route")
    assert "classifier was skipped" in span["attributes"]["edgeprompt.route.reason"]
    assert span["attributes"]["edgeprompt.route.tag"] == "legal" and result.model == rrt.default_model_id()
    assert rrt.router()._head is None  # the head was never loaded: nothing to choose between


def test_export_joins_thumbs_and_feeds_router_examples(linked_home: Path, cli: Any) -> None:
    from edgeprompt.app import Runtime
    from edgeprompt.store.examples import ExampleStore
    from edgeprompt.store.feedback import FeedbackStore

    _two_models(linked_home)
    with Runtime.open(linked_home) as rt:
        rt.catalog.add(card("coder", ("code",)))
    ids = [
        json.loads(cli("ask", q, "--json")[1])["trace_id"]
        for q in ("fix the KeyError in my Python function", "tell me a joke about owls")
    ]
    with Runtime.open(linked_home) as rt:
        FeedbackStore(rt.db).thumbs(ids[0], up=True)
        FeedbackStore(rt.db).thumbs(ids[1], up=False)
    code, out, err = cli("route", "--export", "--json", "--to-examples")
    rows = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [r["outcome"] for r in rows] == [1, -1] and rows[0]["route"] == "code"
    assert "1 added" in err
    code, _, err = cli("route", "--export", "--to-examples", "--outcomes-only")
    assert "0 added" in err  # once per decision
    with Runtime.open(linked_home) as rt:
        ex = ExampleStore(rt.db).for_task("router")
        assert [(e.text, e.label, e.source) for e in ex] == [
            ("fix the KeyError in my Python function", "code", "outcome")
        ]


@pytest.mark.slow  # routes a held-out phrasing file with the shipped head
def test_route_eval_measures_a_labelled_file(linked_home: Path, cli: Any) -> None:
    from edgeprompt.routing.head import shipped_dir

    held = shipped_dir() / "heldout_phrasings_3.jsonl"
    code, out, _ = cli("route", "--eval", "--set", str(held), "--json")
    report = json.loads(out)
    assert code == 0 and report["set"] == held.name and report["n"] == 50
    assert sum(report["confusion"][t][t] for t in report["confusion"]) == round(report["accuracy"] * 50)
    code, _, err = cli("route", "--eval", "--set", str(linked_home / "missing.jsonl"))
    assert code == 2 and "no file" in err
