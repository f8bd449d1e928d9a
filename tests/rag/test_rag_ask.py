"""Grounded answers through `ask --json`: numbered sources, citations, abstention, follow-ups."""

from __future__ import annotations

import json
from pathlib import Path

from edgeprompt.rag.prompting import ABSTAIN_TEXT, NO_MODEL_TEXT


def _ask(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    code, out, err = cli("ask", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_extractive_answer_quotes_and_cites(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = _ask(cli, "What is the comprehensive deductible on my car insurance?", "-m", "extractive")
    assert not r["abstained"] and "$250" in r["answer"] and "[1]" in r["answer"]
    first = r["citations"][0]
    assert first["n"] == 1 and first["path"].endswith("car-insurance-policy.html") and first["cited"]
    assert first["location"].startswith("line") and first["text"] and first["score"] > 0
    assert {"n", "path", "location", "text", "score", "relevance", "cited", "flagged"} <= set(first)


def test_sources_reach_a_generative_backend_and_citations_follow(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = _ask(cli, "When is the day trip to Nara?", "-m", "echo")
    assert r["answer"].startswith("When is the day trip to Nara?")  # echo repeats the question…
    assert not r["abstained"] and r["citations"]  # …but it was given numbered sources
    assert r["citations"][0]["path"].endswith("trip-kyoto-2025.md") and not r["citations"][0]["cited"]


def test_abstains_when_the_documents_do_not_answer(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    for model in ("extractive", "echo"):
        r = _ask(cli, "What is my passport number?", "-m", model)
        assert r["abstained"] and r["answer"] == ABSTAIN_TEXT and r["citations"] == []


def test_follow_up_is_rewritten_with_the_conversation(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    first = _ask(cli, "What was the hotel confirmation number in Lisbon?", "-m", "extractive", "-c")
    assert "LX-55821" in first["answer"]
    follow = _ask(cli, "And the check-in time?", "-m", "extractive", "--session", first["session_id"])
    assert not follow["abstained"] and "15:00" in follow["answer"]
    assert follow["citations"][0]["path"].endswith("trip-lisbon-2024.md")


def test_without_documents_retrieval_is_skipped(cli, embed_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = _ask(cli, "hello there", "-m", "echo")
    assert r["answer"] == "hello there" and not r["abstained"] and r["citations"] == []
    r = _ask(cli, "hello there", "-m", "extractive")  # not a documents question: a model is what is missing
    assert r["answer"] == NO_MODEL_TEXT and r["abstained"]
    again = _ask(cli, "hello there", "-m", "extractive")  # the cache's copy is still an abstention
    assert again["answer"] == NO_MODEL_TEXT and again["cached"] and again["abstained"]


def test_retrieval_stage_is_traced(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.app import Runtime

    r = _ask(cli, "Who is my manager at Brightwave?", "-m", "extractive")
    assert "Aisha Mensah" in r["answer"]
    with Runtime.open(samples_home) as rt:
        row = rt.db.query_one(
            "SELECT attributes FROM trace_spans WHERE trace_id = ? AND name = 'retrieval'", (r["trace_id"],)
        )
    attrs = json.loads(row[0])
    assert attrs["edgeprompt.rag.used"] and attrs["edgeprompt.rag.sources"] >= 1
    assert attrs["edgeprompt.rag.evidence"] >= 0.58 and not attrs["edgeprompt.rag.abstained"]


def test_general_questions_are_answered_without_documents_unless_asked(cli, samples_home: Path) -> None:  # type: ignore[no-untyped-def]
    r = _ask(cli, "hello there", "-m", "echo")  # not about the user's own things: no abstention
    assert r["answer"] == "hello there" and not r["abstained"] and r["citations"] == []
    r = _ask(cli, "What is the capital of France?", "-m", "echo", "--docs")  # only from the documents
    assert r["abstained"] and r["answer"] == ABSTAIN_TEXT
    r = _ask(cli, "What is my passport number?", "-m", "echo", "--no-docs")  # documents skipped
    assert r["answer"] == "What is my passport number?" and not r["abstained"]


def test_a_chat_with_attachments_answers_from_them_only(cli, samples_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sid = _ask(cli, "What was the hotel confirmation number in Lisbon?", "-m", "extractive", "-c")["session_id"]
    note = tmp_path / "packing.md"
    note.write_text(
        "# Packing list\n\nPack the blue raincoat and two plug adapters for the Lisbon trip.\n", encoding="utf-8"
    )
    code, out, err = cli("sessions", "attach", sid, str(note), "--json")
    assert code == 0, err
    assert json.loads(out)["attachments"] == [str(note.resolve())]
    scoped = _ask(cli, "What should I pack for the Lisbon trip?", "-m", "extractive", "--session", sid)
    assert "raincoat" in scoped["answer"] and {c["path"] for c in scoped["citations"]} == {str(note.resolve())}
    elsewhere = _ask(cli, "What time is check-in at the Lisbon hotel?", "-m", "extractive", "--session", sid)
    assert elsewhere["abstained"]  # the trip notes are indexed, but not attached to this chat
    code, out, _ = cli("sessions", "show", sid, "--json")
    assert json.loads(out)["attachments"] == [str(note.resolve())]
    code, out, _ = cli("sessions", "detach", sid, "--json")
    assert code == 0 and json.loads(out)["attachments"] == []
    again = _ask(cli, "What time is check-in at the Lisbon hotel?", "-m", "extractive", "--session", sid)
    assert not again["abstained"] and "15:00" in again["answer"]
    code, _, err = cli("sessions", "attach", sid, str(tmp_path / "missing.md"))
    assert code == 2 and err.count("\n") == 1
