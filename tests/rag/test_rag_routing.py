"""Document questions never reach the demo toy, whatever their task tag; general questions are never
answered "not in your documents"; without a generative model the answer says so and how to get one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeprompt.catalog.cards import ModelCard
from edgeprompt.rag.prompting import ABSTAIN_TEXT, NO_DOCUMENTS_TEXT, NO_MODEL_TEXT, TOY_ONLY_TEXT


def _ask(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    code, out, err = cli("ask", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_general_questions_get_no_documents_message(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    for question in ("What can you do for me?", "Write a haiku about autumn"):
        r = _ask(cli, question, "-m", "extractive")
        assert r["answer"] == NO_MODEL_TEXT, question
        assert "edgeprompt models pull" in r["answer"] and ABSTAIN_TEXT not in r["answer"]
    r = _ask(cli, "What is my passport number?", "-m", "extractive")  # about the user's things: abstains
    assert r["answer"] == ABSTAIN_TEXT and r["abstained"]


def test_a_fresh_home_says_a_model_is_missing_not_documents(cli, embed_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = _ask(cli, "Write a haiku about autumn", "-m", "extractive")
    assert r["answer"] == NO_MODEL_TEXT
    r = _ask(cli, "What is the deposit on my lease?", "-m", "extractive")  # a document question: add documents
    assert r["answer"] == NO_DOCUMENTS_TEXT and r["abstained"]


def _toy_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[model]\ndefault = "toy"\n', encoding="utf-8")


def test_any_routed_tag_moves_from_the_toy_when_the_documents_answer(samples_home: Path) -> None:
    from edgeprompt.app import Runtime
    from edgeprompt.pipeline import AskRequest, Done, run
    from edgeprompt.routing.router import USER_CHOICE, RouteDecision

    _toy_home(samples_home)

    def ask(request: AskRequest, rt: Runtime) -> Any:
        return next(ev.result for ev in run(request, rt) if isinstance(ev, Done))

    with Runtime.open(samples_home) as rt:
        rt.catalog.add(ModelCard(id="toy", backend="echo", tags=("general", "demo"), context_length=2048))
        question = "What is the late fee for rent at Oak Street?"
        for tag in ("legal", "general", "math", "code"):
            decision = RouteDecision(tag, "toy", {}, (), f"'{tag}' (head 0.90)", question)
            moved = rt.router().answered_by_documents(decision, rt.card("toy"))
            assert moved is not None and moved.model == "extractive", tag
        chosen = RouteDecision("legal", "toy", {}, (), USER_CHOICE, question)
        assert rt.router().answered_by_documents(chosen, rt.card("toy")) is None  # -m stays the user's choice
        answered = ask(AskRequest(question, save=False), rt)
        assert answered.model == "extractive" and "$75" in answered.answer and answered.citations
        general = ask(AskRequest("Write a haiku about autumn", save=False), rt)
        assert general.answer == TOY_ONLY_TEXT  # not toy text, not a documents message
        assert (
            ask(AskRequest("Write a haiku about autumn", model="toy", save=False), rt).answer
            == "Write a haiku about autumn"
        )  # -m toy: the user asked for the toy
