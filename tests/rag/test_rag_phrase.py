"""The answering phrase: what a sentence says that the question does not (edgeprompt.rag.phrase), and the
short span the judge returns for "what", "which", "who" and "where" questions written like an
encyclopaedia's (sentences and names made up for the test)."""

from __future__ import annotations

from edgeprompt.rag.answerable import span
from edgeprompt.rag.asked import asked
from edgeprompt.rag.phrase import phrase, runs


def test_the_runs_are_what_the_question_does_not_say() -> None:
    text = "The curfew was lifted in June 1921 after talks."
    found = runs(text, {"curfew", "lifted"}, {"curfew", "lifted"})
    assert [text[r.start : r.end] for r in found] == ["June 1921", "talks"]  # "after" opens a new clause
    assert found[0].distance == 1  # nothing but "in" between it and "lifted"


def test_a_what_question_gets_the_new_phrase_next_to_its_words() -> None:
    q = "What does the acronym GBH stand for?"
    s = "The Baltic Timber Guild (Gilde des Baltischen Holzes, GBH) was founded in 1712."
    assert phrase(s, q, "other") == "Gilde des Baltischen Holzes"
    q = "Which grain is the bread of the valley baked from?"
    assert span(q, asked(q), "In the valley the bread is baked from rye, not wheat.") == "rye"


def test_who_and_where_want_a_capitalised_name() -> None:
    q = "Who founded the Lindqvist shipyard?"
    assert asked(q).kind == "name"
    assert (
        span(q, asked(q), "The Lindqvist shipyard was founded by Maren Holt, a carpenter from Bergen.") == "Maren Holt"
    )
    q = "Where did the guild hold its first meeting?"
    assert asked(q).kind == "place"
    assert span(q, asked(q), "The guild held its first meeting in Ghent in 1302.") == "Ghent"


def test_a_sentence_that_only_repeats_the_question_adds_nothing() -> None:
    assert phrase("The guild was founded.", "When was the guild founded?", "other") == ""
