"""Follow-up questions, rewritten with the conversation before retrieval.

"And the deposit?" after "What is the rent at Oak Street?" searches for "And the deposit? (Oak Street)":
a follow-up (a short question, one that opens with "and / what about / also …", or one that leans on a
pronoun) keeps its own words, which say what is asked now, and borrows the names and numbers of the
previous question, which say what it is about (all of its content words when it has no names).
Stand-alone questions pass unchanged. Deterministic and model-free, so the extractive mode has it too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edgeprompt.backends.base import Message
from edgeprompt.rag.retrieve import STOPWORDS

_OPENER = re.compile(r"^\s*(and|also|plus|but|so|then|what about|how about|and what|same for|what if)\b", re.I)
_PRONOUN = re.compile(
    r"\b(it|its|it's|that|this|these|those|they|them|their|there|he|she|him|her|his|"
    r"same|one|ones|former|latter)\b",
    re.I,
)
_WORD = re.compile(r"\w+")


def is_follow_up(question: str) -> bool:
    words = _WORD.findall(question)
    return bool(_OPENER.match(question)) or len(words) <= 3 or (len(words) <= 9 and bool(_PRONOUN.search(question)))


def _subject(previous: str) -> str:
    """Names (capitalised words after the first), numbers and codes of the previous question."""
    words = _WORD.findall(previous)
    names = [w for i, w in enumerate(words) if (i > 0 and w[0].isupper()) or any(c.isdigit() for c in w)]
    if names:
        return " ".join(names)
    return " ".join(w for w in words if w.lower() not in STOPWORDS and len(w) > 2)


def rewrite(question: str, history: Sequence[Message]) -> str:
    """The search query for `question` given the earlier turns (oldest first)."""
    previous = next((m.content for m in reversed(history) if m.role == "user"), None)
    if not previous or not is_follow_up(question):
        return question
    subject = _subject(previous)
    return f"{question.strip()} ({subject})" if subject else question
