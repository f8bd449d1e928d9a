"""Sandboxed Jinja2 templates and the template cache (compiled templates per version id, an LRU).

Templates run in Jinja2's `ImmutableSandboxedEnvironment`: no attribute that reaches Python internals
(`__class__`, `__globals__`, …) and no mutation of passed values. `StrictUndefined` turns a missing
variable into an error instead of an empty string.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import TemplateError

if TYPE_CHECKING:
    from jinja2 import Environment, Template

    from edgeprompt.prompts.spec import PromptSpec


# The sandbox guards attributes, not sizes: "{{ 'ab' * 999999999999 }}" or "{{ 9 ** 9 ** 9 }}" exhausted
# memory (found by tests/robustness/test_fuzz.py). Repetition and powers past these bounds are refused.
MAX_REPEAT_ITEMS = 1_000_000
MAX_POWER_BITS = 4096


@functools.cache
def environment() -> Environment:
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Bounded(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})  # intercepted ones are not folded at compile time either

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_REPEAT_ITEMS:
                        raise SecurityError(f"repetition of more than {MAX_REPEAT_ITEMS:,} items")
            if (
                operator == "**"
                and isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * max(abs(left), 2).bit_length() > MAX_POWER_BITS
            ):
                raise SecurityError(f"a power of more than {MAX_POWER_BITS} bits")
            return super().call_binop(context, operator, left, right)

    # autoescape off: prompts are plain text, not HTML; keep_trailing_newline: the text is exactly as written
    return Bounded(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def compile_text(where: str, text: str) -> Template:
    from jinja2 import TemplateSyntaxError

    try:
        return environment().from_string(text)
    except TemplateSyntaxError as e:
        raise TemplateError(f"{where}: line {e.lineno}: {e.message}") from e


def check_declared(where: str, spec: PromptSpec) -> None:
    """Every variable the templates read must be declared (a typo must fail at push, not at answer time)."""
    from jinja2 import TemplateSyntaxError, meta

    declared = {v.name for v in spec.variables}
    for part, text in (("system", spec.system), ("template", spec.template)):
        try:
            used = meta.find_undeclared_variables(environment().parse(text))
        except TemplateSyntaxError as e:
            raise TemplateError(f"{where}: {part} line {e.lineno}: {e.message}") from e
        missing = sorted(used - declared)
        if missing:
            raise TemplateError(f"{where}: {part} uses undeclared variable '{missing[0]}'; declare it under variables")


def render_text(where: str, template: Template, values: dict[str, Any]) -> str:
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError, UndefinedError

    try:
        return template.render(values)
    except SecurityError as e:
        raise TemplateError(f"{where}: blocked by the sandbox: {e}") from e
    except UndefinedError as e:
        raise TemplateError(f"{where}: {e}") from e
    except (JinjaError, TypeError, ValueError, ArithmeticError, LookupError) as e:
        raise TemplateError(f"{where}: {type(e).__name__}: {e}") from e


@dataclass(frozen=True)
class Compiled:
    system: Template
    user: Template


class TemplateCache:
    """Compiled (system, user) templates keyed by version id. Versions are immutable, so entries never go
    stale; the LRU bound only caps memory. `hits`/`misses` feed the cache engineer's counters."""

    def __init__(self, size: int = 256) -> None:
        self.size = max(1, size)
        self._entries: OrderedDict[str, Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, version_id: str, spec: PromptSpec) -> Compiled:
        with self._lock:
            hit = self._entries.get(version_id)
            if hit is not None:
                self._entries.move_to_end(version_id)
                self.hits += 1
                return hit
            self.misses += 1
        where = f"{spec.name}@{version_id}"
        compiled = Compiled(compile_text(where + " system", spec.system), compile_text(where, spec.template))
        with self._lock:
            self._entries[version_id] = compiled
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return compiled

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._entries), "capacity": self.size}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
