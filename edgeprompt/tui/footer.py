"""The footer: the screen keys (F1-F10) first, then the front screen's own keys.

Textual's footer lists the focused widget's keys first and the app's last, so at 80 columns the F-keys
fell off the edge; here they lead, compact, with short names below `WIDE` columns.
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
        self._narrow: bool | None = None

    def compose(self) -> Any:
        if not self._bindings_ready:
            return
        narrow = self.app.size.width < WIDE
        self._narrow = narrow
        shown: dict[str, tuple[Any, bool, str]] = {}  # one key per action
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (binding, enabled, tooltip)
        ordered = sorted(shown.values(), key=lambda b: not is_screen_key(b[0]))  # stable: F-keys first
        self.styles.grid_size_columns = len(ordered)
        for binding, enabled, tooltip in ordered:
            label = SHORT.get(binding.description, binding.description) if narrow else binding.description
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                label,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip or binding.description,
            ).data_bind(compact=Footer.compact)

    def on_resize(self) -> None:
        if self._narrow is not None and self._narrow != (self.app.size.width < WIDE):
            self.call_after_refresh(self.recompose)
