"""The answerability judge: what a question asks for, the short answer span, near misses that must abstain
(the real MiniLM embedder and the shipped weights), and multi-part questions."""

from __future__ import annotations

from rag_helpers import HOTEL

from edgeprompt.backends.base import Document
from edgeprompt.rag.answerable import answer, judge, parts, shipped, span
from edgeprompt.rag.asked import asked, values
from edgeprompt.rag.extract import score
from edgeprompt.rag.prompting import ABSTAIN_TEXT

TEAM = Document(
    2,
    "# Team notes\n\nTwo new hires for the platform team were approved in March. They start in "
    "June and sit on the 4th floor.",
    "/h/team.md",
    "lines 1-4",
    0.4,
    "Team notes",
)
CAR = Document(
    3, "# Car\n\nThe replacement battery cost $189 and was fitted on 2025-01-09.", "/h/car.md", "lines 1-3", 0.4, "Car"
)


def test_the_question_names_its_attribute_and_the_kind_of_value() -> None:
    checkout = asked("What is the check-out time at the Osaka hotel?")
    assert checkout.kind == "time" and "check-out" in checkout.focus
    assert asked("What is the tracking number of the replacement battery?").kind == "code"
    assert asked("What salary is offered to the two new hires?").kind == "money"
    assert asked("Who is my manager?").kind == "name" and asked("When did they start?").kind == "date"
    assert asked("How many people are on the team?").kind == "number"
    assert asked("What is the number of people on the team?").kind == "number"  # a count, not a code
    assert values("time", "Check-in from 15:00, check-out by 11:00.") == [(14, 19), (34, 39)]
    assert values("code", "Booking reference JLRX4Q, seat 34K, policy HR-4471-2290.")


def test_the_span_is_the_asked_value_next_to_the_asked_attribute() -> None:
    q = "What is the check-out time at Casa do Largo?"
    assert span(q, asked(q), "Check-in from 15:00, check-out by 11:00. Breakfast included.") == "11:00"
    q = "How much notice do I have to give?"
    assert span(q, asked(q), "Either party must give **60 days' written notice** before moving out.") == "60 days"
    q = "What is my blood type?"
    assert span(q, asked(q), "Blood type: O positive.") == "O positive"
    q = "Who is my manager at Brightwave?"
    assert (
        span(q, asked(q), "Started on October 14, 2024 as a Senior Data Engineer. Manager: Aisha Mensah.")
        == "Aisha Mensah"
    )


def test_a_when_question_gets_a_date_not_an_amount_that_looks_like_a_year() -> None:
    q = "When is the monthly rent paid?"
    rent = "The monthly rent is 1200 euros, paid on the first day of each month by bank transfer."
    assert span(q, asked(q), rent) == "first day of each month"
    assert span(q, asked(q), "Rent ($1500) is due on the last working day of the month.") == (
        "last working day of the month"
    )
    q = "When was the abbey founded?"
    assert span(q, asked(q), "The abbey was founded in 1200 by monks.") == "1200"  # a bare year is still a year


def test_near_misses_abstain_and_the_asked_fact_is_answered(embedder) -> None:  # type: ignore[no-untyped-def]
    docs = (HOTEL, TEAM, CAR)
    embed = embedder.embed_batch
    for question in (
        "What salary is offered to the two new hires?",
        "What is the tracking number of the replacement battery?",
    ):
        j = judge(question, score(question, docs, embed), docs)
        assert not j.answerable, (question, j.score)
        assert answer(question, docs, embed) == ABSTAIN_TEXT
    for question, value in (
        ("What is the check-in time at the Osaka hotel?", "15:00"),
        ("How much did the replacement battery cost?", "$189"),
        ("What is the confirmation number of the Osaka hotel?", "OS-4410"),
    ):
        j = judge(question, score(question, docs, embed), docs)
        assert j.answerable and j.best is not None and j.best.span == value, (question, j)
        assert 0.0 <= j.score <= 1.0 and j.threshold == shipped().threshold


def test_the_extractive_answer_is_the_span_then_its_sentence(embedder) -> None:  # type: ignore[no-untyped-def]
    text = answer("What is the check-in time at the Osaka hotel?", (HOTEL, TEAM), embedder.embed_batch)
    short, quoted = text.split("\n\n")
    assert short == "15:00 [1]"
    assert quoted.startswith("From your documents:") and "- Check-in from 15:00. [1]" in quoted


def test_a_multi_part_question_lists_each_part(embedder) -> None:  # type: ignore[no-untyped-def]
    q = "What is the check-in time and the confirmation number of the Osaka hotel?"
    assert parts(q) == ["What is the check-in time?", "What is the confirmation number of the Osaka hotel?"]
    assert parts("What is the rent?") == ["What is the rent?"]
    text = answer(q, (HOTEL, TEAM), embedder.embed_batch)
    lines = text.split("\n\n")[0].splitlines()
    assert lines == ["- check-in time: 15:00 [1]", "- confirmation number: OS-4410 [1]"]
