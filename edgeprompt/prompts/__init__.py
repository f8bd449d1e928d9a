"""The prompt registry: immutable content-addressed versions, movable labels, tests that gate promotion, A/B.

The seam is `PromptRegistry(db).render(name, label, vars) -> Rendered`; `Runtime.registry()` builds one.
"""

from edgeprompt.prompts.store import PromptRegistry, Rendered, Version

__all__ = ["PromptRegistry", "Rendered", "Version"]
