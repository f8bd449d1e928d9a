"""First-use preparation (`edgeprompt setup`, run by scripts/run): each step is skipped once done."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.app import Runtime


def prepare(
    rt: Runtime, build_demo: bool = True, progress: Callable[[str], None] | None = None, samples: bool = True
) -> dict[str, Any]:
    actions: list[str] = []
    if build_demo:
        from edgeprompt.catalog.demo import demo_ready, ensure_demo, missing_tools

        if not demo_ready(rt.catalog):
            if (why := missing_tools()) is not None:
                # a lean install (no torch): the toy is optional, so setup goes on without it and says why
                if progress:
                    progress(f"{why} (skipped)")
                actions.append("skipped the demo model (no build tools)")
            else:
                if progress:
                    progress("building the demo model (once; about a minute on 2 cores)…")
                ensure_demo(rt.catalog, rt.threads, progress=progress)
                actions.append("built the demo model")
    if samples:  # the sample documents, so a newcomer can ask about them at once (skipped once done)
        from edgeprompt.rag.samples import index_samples

        if (done := index_samples(rt.documents(), progress)) is not None:
            actions.append(done)
    return {"home": str(rt.home), "actions": actions}
