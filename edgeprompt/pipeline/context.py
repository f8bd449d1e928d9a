"""Session memory: fit a conversation into the model's context window, and say what was left out.

The budget is counted with the model's own tokenizer (through `Backend.count_tokens`). When the history
does not fit, the oldest exchanges go first; with `summarize_dropped` they are replaced by a short
extractive summary when that fits. Nothing is cut silently: `ContextReport` says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edgeprompt.backends.base import Message
from edgeprompt.errors import UsageError


@dataclass(frozen=True)
class ContextReport:
    context_length: int
    budget: int  # tokens available for the prompt (context minus the answer's reserve)
    prompt_tokens: int
    system_tokens: int
    history_tokens: int
    kept_turns: int
    dropped_turns: int
    summarised: bool

    def notice(self) -> str | None:
        if not self.dropped_turns:
            return None
        how = "summarised" if self.summarised else "left out"
        return (
            f"{self.dropped_turns} earlier message{'s' if self.dropped_turns != 1 else ''} {how} "
            f"to fit the model's {self.context_length}-token context"
        )

    def trace_attributes(self) -> dict[str, object]:
        return {
            "edgeprompt.context.prompt_tokens": self.prompt_tokens,
            "edgeprompt.context.dropped_turns": self.dropped_turns,
            "edgeprompt.context.summarised": self.summarised,
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "context_length": self.context_length,
            "budget": self.budget,
            "prompt_tokens": self.prompt_tokens,
            "system_tokens": self.system_tokens,
            "history_tokens": self.history_tokens,
            "kept_turns": self.kept_turns,
            "dropped_turns": self.dropped_turns,
            "summarised": self.summarised,
        }


def _summary(dropped: Sequence[Message], max_questions: int = 6, max_words: int = 12) -> str:
    """A short extractive summary: the most recent dropped questions, clipped; older ones only counted."""
    questions = [m.content for m in dropped if m.role == "user"]
    if not questions:
        return ""
    shown = questions[-max_questions:]
    parts = []
    for q in shown:
        words = q.split()
        parts.append(" ".join(words[:max_words]) + ("…" if len(words) > max_words else ""))
    more = len(questions) - len(shown)
    head = "Earlier in this conversation the user asked"
    if more:
        head += f" (besides {more} older question{'s' if more != 1 else ''})"
    return f"{head}: " + "; ".join(parts)


def _split_exchanges(history: Sequence[Message]) -> list[list[Message]]:
    """Group messages into exchanges that each start at a user message."""
    groups: list[list[Message]] = []
    for m in history:
        if m.role == "user" or not groups:
            groups.append([m])
        else:
            groups[-1].append(m)
    return groups


def fit(
    system: Sequence[Message],
    history: Sequence[Message],
    user: Message,
    count: Callable[[Sequence[Message]], int],
    context_length: int,
    reserve: int,
    summarize: bool = True,
) -> tuple[list[Message], ContextReport]:
    """Messages that fit in `context_length - reserve` tokens: system, newest history, the question."""
    reserve = min(reserve, context_length // 2)
    budget = context_length - reserve
    fixed = [*system, user]
    fixed_tokens = count(fixed)
    if fixed_tokens > budget:
        raise UsageError(
            f"the question and instructions take {fixed_tokens} tokens; this model's context "
            f"allows {budget} (plus {reserve} for the answer). Shorten the question."
        )
    # walk back over whole exchanges so a question is never kept without its answer
    groups = _split_exchanges(history)
    n_keep = 0
    while n_keep < len(groups):
        candidate = [m for g in groups[len(groups) - n_keep - 1 :] for m in g]
        if count([*system, *candidate, user]) > budget:
            break
        n_keep += 1
    sys_msgs = list(system)
    summarised = False
    # with a summary, give up further old exchanges until the summary itself fits
    while summarize and n_keep < len(groups):
        dropped_msgs = [m for g in groups[: len(groups) - n_keep] for m in g]
        kept_msgs = [m for g in groups[len(groups) - n_keep :] for m in g]
        text = _summary(dropped_msgs)
        if not text:
            break
        note = Message("system", text)
        if count([*system, note, *kept_msgs, user]) <= budget:
            sys_msgs = [*system, note]
            summarised = True
            break
        if n_keep == 0:
            break
        n_keep -= 1
    kept = [m for g in groups[len(groups) - n_keep :] for m in g] if n_keep else []
    dropped = [m for g in groups[: len(groups) - n_keep] for m in g]
    messages = [*sys_msgs, *kept, user]
    total = count(messages)
    sys_tokens = count(sys_msgs) if sys_msgs else 0
    report = ContextReport(
        context_length, budget, total, sys_tokens, max(0, total - fixed_tokens), len(kept), len(dropped), summarised
    )
    return messages, report
