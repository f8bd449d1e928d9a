"""First use: `edgeprompt setup` (run by scripts/run) and the app's first start. Each step is skipped once done.

Both front ends offer the real language models that suit this machine through `FirstRun.offer` and install
one through `FirstRun.install`, only after the user said yes; a skip is remembered (a marker in the models
folder) so neither asks again at every start. `Runtime.first_run()` builds it with its explicit parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import Catalog, ModelCard
    from edgeprompt.catalog.pull import PullPlan
    from edgeprompt.catalog.recommend import ModelChoice
    from edgeprompt.rag.library import Library

Progress = Callable[[str], None] | None
DECLINED = ".offer-declined"  # in the models folder: the user was offered the models and said no


@dataclass(frozen=True)
class FirstRun:
    models: Path  # the models folder
    catalog: Catalog
    demo_ready: Callable[[], bool]
    build_demo: Callable[[Progress], object]
    library: Callable[[], Library]

    def prepare(self, build_demo: bool = True, samples: bool = True, progress: Progress = None) -> list[str]:
        """Build the demo model and index the sample documents unless done before; returns what was done."""
        actions: list[str] = []
        if build_demo and not self.demo_ready():
            from edgeprompt.catalog.demo import missing_tools

            if (why := missing_tools()) is not None:
                # a lean install (no torch): the toy is optional, so setup goes on without it and says why
                if progress:
                    progress(f"{why} (skipped)")
                actions.append("skipped the demo model (no build tools)")
            else:
                if progress:
                    progress("building the demo model (once; about a minute on 2 cores)…")
                self.build_demo(progress)
                actions.append("built the demo model")
        if samples:  # the sample documents, so a newcomer can ask about them at once (skipped once done)
            from edgeprompt.rag.samples import index_samples

            if (done := index_samples(self.library(), progress)) is not None:
                actions.append(done)
        return actions

    @property
    def declined(self) -> bool:
        return (self.models / DECLINED).exists()

    def decline(self) -> None:
        """Remember that the user skipped the offer (works offline without a language model)."""
        self.models.mkdir(parents=True, exist_ok=True)
        (self.models / DECLINED).touch()

    def offer(self, again: bool = False) -> list[ModelChoice]:
        """The recommended models to offer now: none once a real language model is installed, none after a
        skip unless `again` (the user asked to see them), else the 3-6 that suit this machine."""
        from edgeprompt.catalog.extras import have_build_tools
        from edgeprompt.catalog.recommend import installed_models, machine_backend, machine_ram, recommend

        if installed_models(self.catalog) or (self.declined and not again):
            return []
        return recommend(machine_ram(), machine_backend(), have_build_tools())

    def install(
        self, hub_id: str, model_id: str | None = None, revision: str | None = None, progress: Progress = None
    ) -> tuple[ModelCard, PullPlan]:
        """Download one hub repository (checked: id, runnable layout, disk space) and add its card."""
        from edgeprompt.catalog.pull import check_space, install, model_id_for, plan, runnable_problem
        from edgeprompt.errors import UsageError

        model_id = model_id or model_id_for(hub_id)
        self.catalog.check_new_id(model_id)
        p = plan(hub_id, revision)
        if (problem := runnable_problem(p.layout)) is not None:
            raise UsageError(f"{hub_id}: {problem}")
        check_space(p, self.models)
        return self.catalog.add(install(p, self.models, model_id, progress=progress)), p
