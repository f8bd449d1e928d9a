"""What the request flow needs from the process that runs it, and nothing more: `run` takes any object with
these parts. The composition root's `Runtime` has them (structurally: the pipeline never imports it), so the
CLI, the app and the API server hand theirs in; a test may hand in anything that has them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.cache import Cache
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.config import Settings
    from edgeprompt.embed import Embedder
    from edgeprompt.firewall.engine import Firewall
    from edgeprompt.pipeline import AskRequest, Event
    from edgeprompt.prompts import PromptRegistry
    from edgeprompt.rag.library import Library
    from edgeprompt.routing.router import Router
    from edgeprompt.store.db import Database
    from edgeprompt.store.sessions import SessionStore
    from edgeprompt.store.traces import Trace, TraceLog

# The whole assistant as a callable: one request -> its pipeline events (eval runs and `edgeprompt bench` take
# one, bound by the CLI to `run` with its Runtime, so they never hold the parts themselves).
Ask = Callable[["AskRequest"], Iterable["Event"]]


class Components(Protocol):
    """The parts `run` uses; each is built once by whoever holds them and shared by all requests."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...  # the routing log and the observatory's signals write here

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def traces(self) -> TraceLog: ...

    def card(self, model_id: str | None = None) -> ModelCard: ...  # None: the default model

    def backend(self, model_id: str | None = None, prefer: str | None = None) -> Backend: ...

    def router(self) -> Router: ...

    def active_firewall(self) -> Firewall | None: ...  # None: `[firewall] enabled = false`

    def registry(self) -> PromptRegistry: ...

    def documents(self) -> Library: ...

    def cache(self) -> Cache: ...

    def embedder(self) -> Embedder: ...

    def export_trace(self, trace: Trace) -> None: ...  # after the trace is saved: live OTLP export, if configured
