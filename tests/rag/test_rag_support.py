"""Generated answers grounded like extractive ones: the support check marks sentences the cited sources do
not back (real MiniLM embedder), `ask` with a generative backend marks and traces them, and the
search tool tells a model whether its hits answer the query (the answerability judge)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag_helpers import HOTEL

from edgeprompt.backends.base import Document
from edgeprompt.orchestrate.builtin_tools import answer_judge, search_tool
from edgeprompt.rag.support import MARK, check, claims

CAR = Document(
    2,
    "# Car\n\nThe replacement battery cost $189 and was fitted on 2025-01-09 at the Main Street garage.",
    "/h/car.md",
    "lines 1-3",
    0.4,
    "Car",
)


def test_claims_are_the_answers_sentences() -> None:
    assert claims("Check-in is from 15:00 [1]. Breakfast is included.\n- It is near the river.") == [
        "Check-in is from 15:00 [1].",
        "Breakfast is included.",
        "- It is near the river.",
    ]


def test_a_number_the_cited_source_lacks_is_marked(embedder) -> None:  # type: ignore[no-untyped-def]
    q = "When can I check in at the Osaka hotel?"
    answer = (
        "You can check in at Hotel Kitahama from 15:00 [1]. "
        "Late check-out costs 4,000 yen per hour [1]. Breakfast is included at the hotel [1]."
    )
    s = check(q, answer, [HOTEL, CAR], embedder.embed_batch)
    assert [c.supported for c in s.claims] == [True, False, True]
    assert s.claims[1].missing_numbers == ("4000",) and s.claims[1].cited == (1,)
    assert s.answer == (
        "You can check in at Hotel Kitahama from 15:00 [1]. "
        f"Late check-out costs 4,000 yen per hour [1]. {MARK} Breakfast is included at the hotel [1]."
    )
    assert s.notice() is not None and "1 sentence" in s.notice()  # type: ignore[operator]
    assert s.trace_attributes()["edgeprompt.support.unsupported"] == 1


def test_a_claim_is_checked_against_the_source_it_cites(embedder) -> None:  # type: ignore[no-untyped-def]
    q = "How much did the replacement battery cost?"
    right = check(q, "The replacement battery cost $189 [2].", [HOTEL, CAR], embedder.embed_batch)
    wrong_source = check(q, "The replacement battery cost $189 [1].", [HOTEL, CAR], embedder.embed_batch)
    uncited = check(
        q, "The new battery was $189, fitted at the Main Street garage.", [HOTEL, CAR], embedder.embed_batch
    )
    assert right.claims[0].supported and not right.unsupported and right.notice() is None
    assert not wrong_source.claims[0].supported  # the hotel note says nothing of batteries
    assert uncited.claims[0].supported and uncited.claims[0].cited == ()  # checked against every source
    made_up = check(q, "The garage also replaced the brake pads for a small fee.", [HOTEL, CAR], embedder.embed_batch)
    assert not made_up.claims[0].supported and made_up.answer.endswith(MARK)


def test_short_lines_and_questions_claim_nothing(embedder) -> None:  # type: ignore[no-untyped-def]
    s = check("When is check-in?", "Sure! When is check-in at the Osaka hotel?", [HOTEL], embedder.embed_batch)
    assert s.claims == () and s.answer == "Sure! When is check-in at the Osaka hotel?"


def test_ask_marks_a_generated_sentence_the_sources_do_not_support(samples_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from edgeprompt.app import Runtime
    from edgeprompt.backends.echo import EchoBackend
    from edgeprompt.pipeline import AskRequest, Done, Notice, run

    answer = "The day trip to Nara is on April 2 [1]. The Nara day trip costs 999 dollars per person [1]."

    class Says(EchoBackend):  # a generative model that writes this answer (the outer edge, scripted)
        def stream(self, request: Any) -> Any:
            return super().stream(dataclasses.replace(request, question=answer))

    q = "When is the day trip to Nara?"
    with Runtime.open(samples_home) as rt:
        monkeypatch.setattr(rt, "backend", lambda *a, **k: Says())
        events = list(run(AskRequest(q, model="echo", use_documents=True), rt))
        result = next(e.result for e in events if isinstance(e, Done))
        row = rt.db.query_one(
            "SELECT attributes FROM trace_spans WHERE trace_id = ? AND name = 'grounding.support'", (result.trace_id,)
        )
    assert not result.abstained and result.citations
    assert result.answer == f"{answer} {MARK}"
    assert any(isinstance(e, Notice) and "not supported by the documents" in e.text for e in events)
    assert json.loads(row[0])["edgeprompt.support.unsupported"] == 1


def test_the_search_tool_says_whether_its_hits_answer(embedder) -> None:  # type: ignore[no-untyped-def]
    hits = [
        {"n": d.n, "path": d.path, "location": d.location, "text": d.text, "relevance": d.score} for d in (HOTEL, CAR)
    ]
    tool = search_tool(lambda q, k: hits[:k], answer_judge(embedder.embed_batch))
    found = tool.function(query="What is the check-in time at the Osaka hotel?", k=2)
    assert found["answer"]["answered"] and found["answer"]["span"] == "15:00" and found["answer"]["n"] == 1
    missing = tool.function(query="What is the check-out time at the Osaka hotel?", k=2)
    assert not missing["answer"]["answered"] and "do not state" in missing["answer"]["note"]
    assert "answer" not in search_tool(lambda q, k: [], answer_judge(embedder.embed_batch)).function(query="x")
