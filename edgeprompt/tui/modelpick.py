"""What the model picker offers, and what a new user is told when no model can answer general questions.

The echo backend is a test fake and is never offered; labels are never cut (the description wraps onto a
second line). Getting a real model is ctrl+g (edgeprompt.tui.offer) or `edgeprompt setup`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

AUTO = "auto"
GET_A_MODEL = (
    "No generative model is installed, so only questions about your documents can be answered. "
    "Press ctrl+g to get one that suits this machine (`edgeprompt setup` in a terminal offers the same), "
    "and add documents with F2 or `edgeprompt docs add PATH`."
)


def is_generative(card: Any) -> bool:
    """A model that writes answers: not a test fake, not the extractive quoter, not the demo toy."""
    return not card.test_fake and card.backend != "extractive" and "demo" not in card.tags


def offered(cards: Sequence[Any]) -> list[Any]:
    return [c for c in cards if not c.test_fake]


def model_choices(cards: Sequence[Any]) -> list[tuple[str, Text]]:
    """(value, label): auto first, then each offered card as `id  backend · ctx` and its description."""
    choices = [(AUTO, Text.assemble(("auto", "bold"), "\n  route each question to a model", style=""))]
    for c in offered(cards):
        label = Text.assemble((c.id, "bold"), f"  {c.backend} · {c.context_length} ctx")
        if c.description:
            label.append(f"\n  {c.description}", style="dim")
        choices.append((c.id, label))
    return choices


def picker_title(cards: Sequence[Any]) -> str:
    if any(is_generative(c) for c in cards):
        return "Model for the next answers"
    return "Model for the next answers\n" + GET_A_MODEL
