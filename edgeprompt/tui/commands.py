"""The command palette (ctrl+p): every screen, and every action of the screen in front, by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (mode, palette name, what it is) in F-key order
SCREENS: tuple[tuple[str, str, str], ...] = (
    ("chat", "Chat", "ask questions, sessions, sources, feedback"),
    ("documents", "Documents", "indexed folders and files, add, remove, watch, search"),
    ("prompts", "Prompts", "registry: versions, diff, tests, promote, roll back"),
    ("security", "Security", "firewall events, audit-chain verification, intel packs"),
    ("observatory", "Observatory", "latency, cache, feedback, drift, topics, failures"),
    ("federation", "Federation", "privacy budget, join and leave, last rounds"),
)


def _commands(app: Any, screen: Any) -> list[tuple[str, str, Callable[[], Any]]]:
    """(name, help, callback): screens first, then the front screen's bindings, then the app's."""
    out: list[tuple[str, str, Callable[[], Any]]] = [
        (f"Go to {title}", what, partial(app.switch_mode, mode)) for mode, title, what in SCREENS
    ]
    seen = {name for name, _, _ in out}
    for node, bindings in ((screen, getattr(screen, "BINDINGS", [])), (app, app.BINDINGS)):
        for b in bindings:
            if not getattr(b, "description", "") or b.action.startswith("switch_mode"):
                continue
            name = f"{b.description}"
            if name in seen:
                continue
            seen.add(name)
            out.append((name, f"key {b.key.split(',')[0]}", partial(node.run_action, b.action)))
    return out


class EdgepromptCommands(Provider):
    async def discover(self) -> Hits:
        for name, help_text, callback in _commands(self.app, self.screen):
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in _commands(self.app, self.screen):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
