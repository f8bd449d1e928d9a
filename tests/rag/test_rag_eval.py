"""`eval retrieval`: the metrics against hand-computed values, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeprompt.rag.evaluate import Outcome, matches, report


def _o(
    gold: tuple[str, ...], rank: int | None, abstained: bool, contains: bool | None, ms: float, evidence: float = 0.7
) -> Outcome:
    return Outcome("q", gold, rank, 0.5, evidence, abstained, "a", contains, ms, ())


def test_metrics_match_hand_computed_values() -> None:
    outcomes = [
        _o(("a.md",), 1, False, True, 10.0),  # found first
        _o(("b.md",), 3, False, False, 20.0),  # found third
        _o(("c.md",), 7, False, True, 30.0),  # found seventh
        _o(("d.md",), None, True, None, 40.0, evidence=0.3),  # missed, and abstained (a false abstention)
        _o((), None, True, None, 50.0, evidence=0.2),  # unanswerable, abstained
        _o((), None, False, None, 60.0, evidence=0.9),  # unanswerable, answered anyway
    ]
    r = report(outcomes, 0.58)
    assert (r["questions"], r["answerable"], r["unanswerable"]) == (6, 4, 2)
    assert r["recall@1"] == 0.25 and r["recall@5"] == 0.5 and r["recall@10"] == 0.75
    assert r["mrr"] == pytest.approx(round((1 + 1 / 3 + 1 / 7 + 0) / 4, 4))
    assert r["abstention_accuracy"] == 0.5 and r["false_abstention_rate"] == 0.25
    assert r["answer_contains_rate"] == pytest.approx(round(2 / 3, 4))
    assert r["latency_ms"] == {"p50": 30.0, "p95": 60.0}  # nearest rank over 10…60: 3rd and 6th of 6
    at_050 = next(s for s in r["threshold_sweep"] if s["min_evidence"] == 0.5)
    assert at_050 == {"min_evidence": 0.5, "abstention": 0.5, "false_abstention": 0.25}


def test_gold_documents_match_by_path_suffix() -> None:
    assert matches("/home/me/docs/housing/lease.pdf", "housing/lease.pdf")
    assert matches("/home/me/docs/housing/lease.pdf", "./lease.pdf")
    assert not matches("/home/me/docs/housing/mylease.pdf", "lease.pdf")


def test_eval_command_on_a_tiny_question_set(cli, embed_home: Path, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "question": "What is the monthly rent for the river flat?",
                    "gold_docs": ["lease.md"],
                    "answer": "1,200",
                },
                {
                    "question": "How often do I water the tomatoes?",
                    "gold_docs": ["notes/garden.txt"],
                    "answer": "every morning",
                },
                {"question": "Which plant likes shade?", "gold_docs": ["plants.csv"], "answer": "fern"},
                {"question": "What is my passport number?", "gold_docs": [], "answer": None},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    code, out, err = cli("eval", "retrieval", "--questions", str(questions), "--docs", str(corpus), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert (r["answerable"], r["unanswerable"]) == (3, 1)
    assert r["recall@5"] == 1.0 and r["recall@10"] == 1.0 and r["mrr"] > 0.6
    assert r["abstention_accuracy"] == 1.0 and r["false_abstention_rate"] == 0.0
    assert r["answer_contains_rate"] == 1.0 and r["model"] == "extractive"
    assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p95"]
    assert [o["first_gold_rank"] is not None for o in r["results"]] == [True, True, True, False]


def test_eval_refuses_bad_input(cli, embed_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "gold_docs": "lease.md"}\n', encoding="utf-8")
    code, _, err = cli("eval", "retrieval", "--questions", str(bad))
    assert code == 2 and "line 1" in err and len(err.strip().splitlines()) == 1
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "x", "gold_docs": []}\n', encoding="utf-8")
    code, _, err = cli("eval", "retrieval", "--questions", str(good))
    assert code == 2 and "no documents are indexed" in err
    code, _, err = cli("eval", "retrieval", "--questions", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "cannot read" in err


def test_short_answer_metrics_follow_squad() -> None:
    from edgeprompt.rag.evaluate import auroc, short_answer, squad_norm, token_f1

    assert squad_norm("The  Ferries, of Osaka!") == "ferries of osaka"
    assert token_f1("in March 1974", "March 1974") == pytest.approx(0.8)  # 2 shared of 3 and 2 tokens
    assert token_f1("the", "a") == 1.0 and token_f1("Kyoto", "Nara") == 0.0  # both empty after norm; none shared
    assert short_answer("15:00 [1]\n\nFrom your documents:\n- Check-in from 15:00. [1]") == "15:00"
    assert auroc([0.9, 0.8], [0.1, 0.8]) == 0.875 and auroc([], [0.1]) is None
    outcomes = [
        Outcome("q", ("a.md",), 1, 0.5, 0.7, False, "x", True, 1.0, (), 0.9, "March 1974", True, 1.0, 5.0),
        Outcome("q", ("b.md",), 1, 0.5, 0.7, False, "x", True, 1.0, (), 0.6, "in 1974", False, 2 / 3, 7.0),
        Outcome("q", (), None, 0.5, 0.7, True, None, None, 1.0, (), 0.2, None, None, None, 3.0),
    ]
    r = report(outcomes, 0.58)
    assert r["answerability_auroc"] == 1.0 and r["exact_match"] == 0.5
    assert r["token_f1"] == pytest.approx(round((1 + 2 / 3) / 2, 4)) and r["answer_chars"]["p50"] == 7.0
    assert r["answer_latency_ms"] == {"p50": 5.0, "p95": 7.0}
