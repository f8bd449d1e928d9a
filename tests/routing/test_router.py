"""The router over real MiniLM + the shipped ONNX head: held-out accuracy, the head contract, custom tags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from routing_helpers import card

from edgeprompt.errors import ModelLoadError
from edgeprompt.routing.evaluation import evaluate, load_set
from edgeprompt.routing.head import DIM, META_FILE, ONNX_FILE, RouterHead, head_state_from_onnx, locate, shipped_dir
from edgeprompt.routing.rules import TAGS


def test_routing_set_is_balanced_with_ambiguous_prompts_and_a_fixed_split() -> None:
    rows = load_set()
    assert len(rows) >= 200
    counts = {t: sum(r["label"] == t for r in rows) for t in TAGS}
    assert max(counts.values()) - min(counts.values()) <= 2
    assert sum(bool(r["also"]) for r in rows) >= 50
    test = load_set(split="test")
    assert {r["label"] for r in test} == set(TAGS) and any(r["also"] for r in test)
    assert not {r["text"] for r in test} & {r["text"] for r in load_set(split="train")}


@pytest.mark.slow  # an evaluation of a shipped model on a held-out set: it changes when the model does
def test_shipped_head_routes_the_held_out_split_at_least_90_percent(rrt: Any) -> None:
    report = evaluate(rrt.router(), load_set(split="test"))
    assert report.n >= 60
    assert report.accuracy >= 0.90, report.errors
    assert sum(report.confusion[t][t] for t in TAGS) == round(report.accuracy * report.n)


@pytest.mark.slow  # the issue-19 measure: phrasings written apart from the training ones, all five files together
def test_shipped_router_routes_the_held_out_phrasings_at_least_92_percent(rrt: Any) -> None:
    names = [f"heldout_phrasings{s}.jsonl" for s in ("", "_2", "_3", "_4", "_5")]
    reports = [evaluate(rrt.router(), load_set(shipped_dir() / name)) for name in names]
    right = sum(round(r.accuracy * r.n) for r in reports)
    total = sum(r.n for r in reports)
    assert total >= 250
    assert right / total >= 0.92, [e for r in reports for e in r.errors]
    assert min(r.accuracy for r in reports) >= 0.90  # no one file far below the rest


def test_head_contract_for_federated_retraining() -> None:
    meta = json.loads((shipped_dir() / META_FILE).read_text())
    assert meta["labels"] == list(TAGS) and meta["input"] == "embedding" and meta["dim"] == DIM
    head = RouterHead(shipped_dir())
    probs = head.probabilities(np.zeros((3, DIM), dtype=np.float32))
    assert probs.shape == (3, len(TAGS)) and np.allclose(probs.sum(1), 1.0, atol=1e-5)
    import torch

    from edgeprompt.routing.head import torch_head

    model = torch_head(len(TAGS), meta.get("hidden", 0))
    model.load_state_dict(head_state_from_onnx(shipped_dir() / ONNX_FILE))
    x = np.random.default_rng(0).normal(size=(4, DIM)).astype(np.float32)
    with torch.no_grad():
        mine = torch.softmax(model(torch.from_numpy(x)), -1).numpy()
    assert np.allclose(mine, head.probabilities(x), atol=1e-5)


def test_an_installed_head_in_the_data_home_wins_over_the_shipped_one(rrt: Any, tmp_path: Path) -> None:
    from edgeprompt.routing.head import export_head, torch_head

    assert locate(rrt.paths) == shipped_dir()
    import torch

    model = torch_head(len(TAGS))
    with torch.no_grad():  # a head that always says "legal": easy to recognise
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 9.0, 0.0]))
    export_head(model, list(TAGS), rrt.paths.models / "router", {"source": "federation test"})
    assert locate(rrt.paths) == rrt.paths.models / "router"
    rrt._parts.pop("router", None)
    decision = rrt.router().decide("tell me a joke about cats")
    assert decision.route == "legal" and rrt.router().head.source == "installed"
    shipped = json.loads((shipped_dir() / META_FILE).read_text())
    assert rrt.router().head.meta.extra["fit_threshold"] == shipped["fit_threshold"]  # its operating point


def test_a_broken_head_is_a_clear_error(tmp_path: Path) -> None:
    shutil.copy(shipped_dir() / ONNX_FILE, tmp_path / ONNX_FILE)
    (tmp_path / META_FILE).write_text(json.dumps({"labels": ["a", "b"], "input": "embedding"}))
    with pytest.raises(ModelLoadError, match="5 outputs but 2 labels"):
        RouterHead(tmp_path)
    (tmp_path / META_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError, match="metadata"):
        RouterHead(tmp_path)


def test_decision_carries_scores_rules_and_reason(rrt: Any) -> None:
    d = rrt.router().decide("Why does my Python script raise KeyError: 'id'?")
    assert d.route == "code"
    assert set(d.scores) == set(TAGS) and abs(sum(d.scores.values()) - 1) < 1e-3
    assert any(r.startswith("keyword:code:") for r in d.rules)
    assert "code" in d.reason and d.model == rrt.default_model_id()
    assert set(d.as_dict()) == {"route", "model", "scores", "rules", "reason"}


def test_ambiguous_requests_follow_precedence(rrt: Any) -> None:
    router = rrt.router()
    assert router.decide("Write a Python function that returns 15% of a price").route == "code"
    assert router.decide("What does the termination clause in my lease PDF say?").route == "documents"
    assert router.decide("A contract has a 2% late fee per day on 5000; how much after 10 days?").route == "math"


def test_explicit_tag_wins_and_is_stripped(rrt: Any) -> None:
    d = rrt.router().decide("@legal tell me a joke about cats")
    assert d.route == "legal" and d.rules[0] == "explicit:@legal" and d.text == "tell me a joke about cats"
    d = rrt.router().decide("@nobody tell me a joke")  # not a known tag: an ordinary mention
    assert d.route != "nobody" and d.text == "@nobody tell me a joke"


def test_custom_tags_route_by_name_and_by_description(rrt: Any) -> None:
    rrt.catalog.add(card("medic", ("medical",), description="symptoms, medicines, doses and side effects"))
    rrt.catalog.add(card("sqlbot", ("sql",), description="writes and explains database queries"))
    router = rrt.router()
    d = router.decide("what are the side effects of ibuprofen and the maximum daily dose?")
    assert d.route == "medical" and d.model == "medic" and "similarity" in d.reason
    d = router.decide("is SQL hard to learn?")
    assert d.route == "sql" and "custom:sql" in d.rules and d.model == "sqlbot"
    d = router.decide("@medical hello")
    assert d.route == "medical" and d.text == "hello"
    assert router.decide("tell me a joke about cats").route == "general"


def test_route_seam_returns_the_card(rrt: Any) -> None:
    rrt.catalog.add(card("coder", ("code",)))
    assert rrt.router().route("fix the bug in my JavaScript function").id == "coder"


def test_router_sees_cards_added_while_it_runs(rrt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgeprompt.routing.router

    monkeypatch.setattr(edgeprompt.routing.router, "CARDS_RECHECK_S", 0.0)  # the app waits up to a second; tests don't
    router = rrt.router()
    assert router.decide("fix the bug in my JavaScript function").model == rrt.default_model_id()
    rrt.catalog.add(card("coder", ("code",)))
    assert router.decide("fix the bug in my JavaScript function").model == "coder"
    rrt.catalog.remove("coder")
    assert router.decide("fix the bug in my JavaScript function").model == rrt.default_model_id()
