"""Follow-up questions, rewritten with the conversation before retrieval.

"And the deposit?" after "What is the rent at Oak Street?" searches for both: a follow-up (a short
question, one that opens with "and / what about / also …", or one that leans on a pronoun) is joined
with the previous question, whose words say what "it" or "there" is. Stand-alone questions pass
unchanged. Deterministic and model-free, so it works with the extractive mode too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from edgeprompt.backends.base import Message

_OPENER = re.compile(r"^\s*(and|also|plus|but|so|then|what about|how about|and what|same for|what if)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|it's|that|this|these|those|they|them|their|there|he|she|him|her|his|"
                      r"same|one|ones|former|latter)\b", re.I)
_WORD = re.compile(r"\w+")


def is_follow_up(question: str) -> bool:
    words = _WORD.findall(question)
    return bool(_OPENER.match(question)) or len(words) <= 3 or (len(words) <= 9 and bool(_PRONOUN.search(question)))


def rewrite(question: str, history: Sequence[Message]) -> str:
    """The search query for `question` given the earlier turns (oldest first)."""
    previous = next((m.content for m in reversed(history) if m.role == "user"), None)
    if not previous or not is_follow_up(question):
        return question
    return f"{previous.strip()} {question.strip()}"
