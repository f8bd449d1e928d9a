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
        return (f"{self.dropped_turns} earlier message{'s' if self.dropped_turns != 1 else ''} {how} "
                f"to fit the model's {self.context_length}-token context")

    def as_dict(self) -> dict[str, object]:
        return {"context_length": self.context_length, "budget": self.budget,
                "prompt_tokens": self.prompt_tokens, "system_tokens": self.system_tokens,
                "history_tokens": self.history_tokens, "kept_turns": self.kept_turns,
                "dropped_turns": self.dropped_turns, "summarised": self.summarised}


def _summary(dropped: Sequence[Message], max_words: int = 12) -> str:
    parts = []
    for m in dropped:
        if m.role != "user":
            continue
        words = m.content.split()
        parts.append(" ".join(words[:max_words]) + ("…" if len(words) > max_words else ""))
    return "Earlier in this conversation the user asked: " + "; ".join(parts) if parts else ""


def fit(system: Sequence[Message], history: Sequence[Message], user: Message,
        count: Callable[[Sequence[Message]], int], context_length: int, reserve: int,
        summarize: bool = True) -> tuple[list[Message], ContextReport]:
    """Messages that fit in `context_length - reserve` tokens: system, newest history, the question."""
    reserve = min(reserve, context_length // 2)
    budget = context_length - reserve
    fixed = [*system, user]
    fixed_tokens = count(fixed)
    if fixed_tokens > budget:
        raise UsageError(f"the question and instructions take {fixed_tokens} tokens; this model's context "
                         f"allows {budget} (plus {reserve} for the answer). Shorten the question.")
    kept: list[Message] = []
    # walk back over whole exchanges so a question is never kept without its answer
    i = len(history)
    while i > 0:
        j = i - 1
        while j > 0 and history[j].role != "user":
            j -= 1
        candidate = list(history[j:i]) + kept
        if count([*system, *candidate, user]) > budget:
            break
        kept = candidate
        i = j
    dropped = list(history[:i])
    summarised = False
    sys_msgs = list(system)
    if dropped and summarize:
        text = _summary(dropped)
        if text:
            note = Message("system", text)
            if count([*sys_msgs, note, *kept, user]) <= budget:
                sys_msgs.append(note)
                summarised = True
    messages = [*sys_msgs, *kept, user]
    total = count(messages)
    sys_tokens = count(sys_msgs) if sys_msgs else 0
    report = ContextReport(context_length, budget, total, sys_tokens, max(0, total - fixed_tokens),
                           len(kept), len(dropped), summarised)
    return messages, report
