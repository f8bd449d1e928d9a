"""Helpers for the app's Pilot tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeprompt.backends.base import Chunk, Request, StatsClock
from edgeprompt.prompts.spec import parse_spec

SIZE = (100, 30)


class SlowEcho:
    """The echo backend's words, one every few milliseconds until cancelled: a long answer (outer-edge fake)."""

    name = "echo"
    context_length = 2048

    def __init__(self, words: int = 2000) -> None:
        self.words = words

    def count_tokens(self, messages: Any) -> int:
        return sum(len(m.content.split()) + 3 for m in messages)

    def stream(self, request: Request) -> Iterator[Chunk]:
        clock = StatsClock()
        finish = "stop"
        for i in range(self.words):
            if request.cancel is not None and request.cancel.wait(0.005):
                finish = "cancelled"
                break
            clock.token()
            yield Chunk(f"word{i} ")
        yield Chunk("", finish_reason=finish, stats=clock.stats(self.count_tokens(request.messages)))

    def close(self) -> None:
        return None


async def settle(app: Any, pilot: Any) -> None:
    """Wait until every worker is done and the messages they posted are handled."""
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def errors(app: Any) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


def greet(template: str) -> Any:
    return parse_spec(
        {
            "name": "greet",
            "description": "greets a person",
            "template": template,
            "variables": {"name": {"type": "string"}},
            "tests": [{"vars": {"name": "Ada"}, "assert": [{"type": "contains", "value": "Ada"}]}],
        },
        "test",
    )


def seed_prompts(rt: Any) -> None:
    reg = rt.registry()
    v1 = reg.push(greet("Please greet {{ name }}."), "tester", "first")
    reg.push(greet("Please greet {{ name }} warmly."), "tester", "warmer")
    reg.labels.move("greet", "production", v1.version, "promote")


LEASE = """# Flat lease

## Rent

The monthly rent is 1200 euros, paid on the first day of each month by bank transfer.

## Deposit

The deposit is two months of rent and is returned within thirty days after the keys are handed back.
"""
GARDEN = """# Garden notes

Tomatoes need six hours of sun a day and water at the roots in the morning.
"""


def write_docs(user_home: Path) -> Path:
    folder = user_home / "docs"
    folder.mkdir()
    (folder / "lease.md").write_text(LEASE)
    (folder / "garden.md").write_text(GARDEN)
    return folder
