"""What changed between two versions of a prompt: the changed fields and a unified diff of the prompt files."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.prompts.store import PromptRegistry


def diff_versions(registry: PromptRegistry, name: str, a: str, b: str) -> dict[str, Any]:
    """`a` and `b` are version tokens (number, id prefix or label), as in `prompts diff NAME A B`."""
    from edgeprompt.prompts.files import dump

    va, vb = registry.resolve(name, a), registry.resolve(name, b)
    ca, cb = va.spec.content(), vb.spec.content()
    old, new = dump(va.spec).splitlines(keepends=True), dump(vb.spec).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(old, new, f"{name}@{va.seq}", f"{name}@{vb.seq}"))
    return {
        "name": name,
        "a": va.id,
        "b": vb.id,
        "a_seq": va.seq,
        "b_seq": vb.seq,
        "changed": sorted(k for k in ca if ca[k] != cb[k]),
        "diff": diff,
    }
