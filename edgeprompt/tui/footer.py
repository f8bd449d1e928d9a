"""The footer: the screen keys (F1-F10) first, then the front screen's own keys.

Textual's footer lists the focused widget's keys first and the app's last, so at 80 columns the F-keys
fell off the edge; here they lead, compact, with short names below `WIDE` columns, and a key that would
be cut at the right edge is left out whole (every key is in the F10 list and the command palette).
"""

from __future__ import annotations

import re
from typing import Any

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

WIDE = 110
SHORT = {"Documents": "Docs", "Observatory": "Observe", "Federation": "Federate"}
_FKEY = re.compile(r"^f\d+$")


def is_screen_key(binding: Any) -> bool:
    return any(_FKEY.match(k.strip()) for k in binding.key.split(","))


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)
        self._width: int | None = None

    def compose(self) -> Any:
        if not self._bindings_ready:
            return
        width = self.app.size.width
        narrow = width < WIDE
        self._width = width
        shown: dict[str, tuple[Any, bool, str]] = {}  # one key per action
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (binding, enabled, tooltip)
        ordered = sorted(shown.values(), key=lambda b: not is_screen_key(b[0]))  # stable: F-keys first
        keys: list[FooterKey] = []
        used = 0
        for binding, enabled, tooltip in ordered:
            label = SHORT.get(binding.description, binding.description) if narrow else binding.description
            shown_key = self.app.get_key_display(binding)
            used += len(shown_key) + 1 + len(label) + (1 if keys else 0)  # a compact key is "key label", 1 apart
            if used > width and not is_screen_key(binding):
                break
            keys.append(
                FooterKey(
                    binding.key,
                    shown_key,
                    label,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip or binding.description,
                ).data_bind(compact=Footer.compact)
            )
        self.styles.grid_size_columns = len(keys)
        yield from keys

    def on_resize(self) -> None:
        if self._width is not None and self._width != self.app.size.width:
            self.call_after_refresh(self.recompose)
