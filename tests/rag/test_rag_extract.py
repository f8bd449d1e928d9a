"""Sentence evidence and extractive answers with the real MiniLM embedder; follow-up rewriting."""

from __future__ import annotations

from edgeprompt.backends.base import Document, Message
from edgeprompt.rag.extract import answer, evidence, sentences
from edgeprompt.rag.prompting import ABSTAIN_TEXT
from edgeprompt.rag.rewrite import is_follow_up, rewrite

DOCS = (
    Document(
        1,
        "Primary care: Dr. Priya Nair, Lakeside Family Clinic.\nBlood type: O positive.",
        "/h/health.txt",
        "lines 3-4",
        0.5,
        "Vaccination record",
    ),
    Document(
        2,
        "Subject: Dinner plans\nThe dinner is on Saturday at 7:30 pm at Osteria Pane.",
        "/h/mail.mbox",
        "lines 20-24",
        0.4,
        "mail > Dinner plans",
    ),
)


def test_sentences_split_at_ends_and_lines_but_not_after_abbreviations() -> None:
    assert sentences(DOCS[0].text) == [
        "Primary care: Dr. Priya Nair, Lakeside Family Clinic.",
        "Blood type: O positive.",
    ]
    assert sentences("See Mr. Smith at 5 St. James. Then we go.\nOk.\n- a list item here") == [
        "See Mr. Smith at 5 St. James.",
        "Then we go.",
        "a list item here",
    ]


def test_answer_quotes_the_best_sentence_with_its_number(embedder) -> None:  # type: ignore[no-untyped-def]
    text = answer("What is my blood type?", DOCS, embedder.embed_batch)
    assert text.startswith("From your documents:") and "Blood type: O positive. [1]" in text
    assert "Osteria Pane. [2]" in answer("Where is the dinner on Saturday?", DOCS, embedder.embed_batch)
    assert "Subject:" not in answer("What are the dinner plans?", DOCS, embedder.embed_batch)
    assert evidence("What is my blood type?", DOCS, embedder.embed_batch) > 0.58
    weak = "How much did my new laptop cost?"
    assert evidence(weak, DOCS, embedder.embed_batch) < 0.58
    assert answer(weak, DOCS, embedder.embed_batch) == ABSTAIN_TEXT
    assert answer("anything", (), embedder.embed_batch) == ABSTAIN_TEXT


def test_follow_ups_borrow_the_subject_of_the_previous_question() -> None:
    history = [Message("user", "What was the hotel confirmation number in Lisbon?"), Message("assistant", "LX")]
    assert rewrite("And the check-in time?", history) == "And the check-in time? (Lisbon)"
    assert rewrite("What is the deductible on my renters insurance?", history) == (
        "What is the deductible on my renters insurance?"
    )
    assert rewrite("and the pets?", [Message("user", "what is the deposit?")]) == "and the pets? (deposit)"
    assert rewrite("And the deposit?", []) == "And the deposit?"
    assert is_follow_up("What about it?") and not is_follow_up("Who is my manager at Brightwave Analytics?")
