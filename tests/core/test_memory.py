from __future__ import annotations

import pytest

from edgeprompt.backends.base import Message
from edgeprompt.backends.echo import EchoBackend
from edgeprompt.errors import UsageError
from edgeprompt.pipeline.context import fit

count = EchoBackend().count_tokens  # one token per word + 3 per message


def history(n: int) -> list[Message]:
    out = []
    for i in range(n):
        out += [Message("user", f"question number {i} about things"), Message("assistant", f"answer {i} here")]
    return out


def test_everything_fits() -> None:
    msgs, rep = fit([Message("system", "be nice")], history(2), Message("user", "now?"), count, 200, 50)
    assert len(msgs) == 1 + 4 + 1
    assert rep.dropped_turns == 0 and rep.notice() is None
    assert rep.prompt_tokens == count(msgs)


def test_oldest_exchanges_go_first_in_whole_pairs_and_are_summarised() -> None:
    system = [Message("system", "be nice")]
    user = Message("user", "now?")
    # budget 100 - 20 = 80: system (5) + user (4) leaves 71; each exchange costs 8 + 6 = 14
    msgs, rep = fit(system, history(8), user, count, 100, 20)
    kept = [m for m in msgs if m.role in ("user", "assistant")][:-1]
    assert kept[0].role == "user" and kept[-1].role == "assistant"
    assert rep.kept_turns == len(kept)
    assert rep.dropped_turns == 16 - len(kept)
    assert 0 < rep.kept_turns < 16
    assert rep.prompt_tokens <= rep.budget
    assert "left out" in rep.notice() or "summarised" in rep.notice()
    assert "question number 7" in " ".join(m.content for m in kept)  # the newest survives


def test_summary_names_the_dropped_questions_when_it_fits() -> None:
    msgs, rep = fit([Message("system", "s")], history(6), Message("user", "q"), count, 120, 40)
    assert rep.dropped_turns > 0 and rep.summarised
    note = next(m for m in msgs if m.content.startswith("Earlier in this conversation"))
    assert "question number 0" in note.content


def test_question_that_cannot_fit_is_an_error_not_a_truncation() -> None:
    with pytest.raises(UsageError, match="Shorten the question"):
        fit([Message("system", "s")], [], Message("user", "word " * 500), count, 256, 64)
