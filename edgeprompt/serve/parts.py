"""What the API server needs from the process that runs it: the pipeline's `Components` (every chat request
goes through `pipeline.run`), the model catalog for /v1/models, and a way to keep one loaded model per
backend. The composition root's `Runtime` has them (structurally: the server never imports it); `edgeprompt
serve` hands in the CLI's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from edgeprompt.pipeline.components import Components

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import Catalog


class ServerParts(Components, Protocol):
    @property
    def catalog(self) -> Catalog: ...

    def unload_others(self, model_id: str, kind: str) -> list[str]: ...  # close the other models of `kind`
