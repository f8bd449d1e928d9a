"""The runtime: settings, the open database, the model catalog, and lazily loaded components.

One `Runtime` per process (CLI command or app). Components that cost time to load (backends, the
embedder) are created on first use and kept.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edgeprompt import config as config_mod
from edgeprompt.backends.loader import physical_threads
from edgeprompt.catalog.cards import Catalog, ModelCard, resolve_backend
from edgeprompt.paths import Paths, resolve_home
from edgeprompt.store.db import Database
from edgeprompt.store.migrate import open_db
from edgeprompt.store.sessions import SessionStore
from edgeprompt.store.traces import Trace, TraceLog

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.cache import Cache
    from edgeprompt.config import Settings
    from edgeprompt.embed import Embedder
    from edgeprompt.firewall.engine import Firewall
    from edgeprompt.firewall.scanner import Verdict
    from edgeprompt.first_run import FirstRun
    from edgeprompt.orchestrate.tools import ToolBox
    from edgeprompt.prompts import PromptRegistry
    from edgeprompt.prompts.suite import SuiteParts
    from edgeprompt.rag.library import Library
    from edgeprompt.routing.router import Router

_T = TypeVar("_T")  # a component `Runtime.part` builds once


@dataclass
class Runtime:
    settings: Settings
    db: Database
    catalog: Catalog
    _backends: dict[tuple[str, str], Backend] = field(default_factory=dict)
    _embedder: Embedder | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _parts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None) -> Runtime:
        paths = Paths(resolve_home(home)).ensure()
        config_mod.write_default(paths.config)
        settings = config_mod.load(paths)
        db = open_db(paths.db)
        return cls(settings=settings, db=db, catalog=Catalog(paths.models))

    @property
    def paths(self) -> Paths:
        return self.settings.paths

    @property
    def home(self) -> Path:
        return self.settings.paths.home

    @property
    def threads(self) -> int:
        """Threads for model work: [model] threads, or this machine's core count when that is 0."""
        return physical_threads(int(self.settings.get("model.threads")))

    @property
    def sessions(self) -> SessionStore:
        return SessionStore(self.db)

    @property
    def traces(self) -> TraceLog:
        return TraceLog(self.db)

    def part(self, name: str, factory: Callable[[], _T]) -> _T:
        """A lazily built, cached component (firewall, retriever, cache, …) shared by all requests."""
        with self._lock:
            if name not in self._parts:
                self._parts[name] = factory()
            built: _T = self._parts[name]  # what `factory` built under this name
            return built

    def registry(self) -> PromptRegistry:
        """The prompt registry (versions, labels, the template cache), shared by all requests."""
        from edgeprompt.prompts import PromptRegistry

        reg = self.settings.section("registry")
        return self.part(
            "registry",
            lambda: PromptRegistry(
                self.db,
                cache_size=int(reg["template_cache_size"]),
                default_prompt=str(reg["default_prompt"]),
                default_label=str(reg["label"]),
            ),
        )

    def cache(self) -> Cache:
        """The multi-level cache (edgeprompt.cache): answers, context embeddings, prefix KV states."""
        from edgeprompt.cache import Cache, verifier
        from edgeprompt.cache.threshold import effective, verifier_point

        s = self.settings.section("cache")
        judged = bool(s["verifier"]) and verifier.installed()  # the lower cosine floor only with a judge
        return self.part(
            "cache",
            lambda: Cache(
                self.db,
                s,
                self.embedder,
                effective(float(s["semantic_threshold"]), judged),
                self.paths.cache / "answers",
                templates=lambda: getattr(self._parts.get("registry"), "templates", None),
                verifier=(lambda: verifier.shipped(verifier_point().threshold)) if s["verifier"] else None,
            ),
        )

    def first_run(self) -> FirstRun:
        """First use (`setup` and the app's first start): the demo, the samples, the model offer."""
        from edgeprompt.catalog.demo import demo_ready, ensure_demo
        from edgeprompt.first_run import FirstRun

        return FirstRun(
            self.paths.models,
            self.catalog,
            lambda: demo_ready(self.catalog),
            lambda progress: ensure_demo(self.catalog, self.threads, progress=progress),
            self.documents,
        )

    def documents(self) -> Library:
        """Your documents: the indexer and the retriever over them (edgeprompt.rag), built on first use."""
        from edgeprompt.rag.library import Library

        # the firewall's chunk scanner flags injected instructions; it is built on the first chunk scanned
        return self.part(
            "rag",
            lambda: Library(
                self.db, self.settings.section("rag"), self.embedder, lambda text: self.chunk_scanner()(text)
            ),
        )

    def router(self) -> Router:
        """The router (edgeprompt.routing.router): task tag -> installed model; its head and embedder load lazily."""
        from edgeprompt.routing.head import RouterHead, locate
        from edgeprompt.routing.policy import is_installed
        from edgeprompt.routing.router import Router

        prefer = str(self.settings.get("model.backend"))
        return self.part(
            "router",
            lambda: Router(
                self.catalog,
                lambda: RouterHead(locate(self.paths)),
                lambda texts: self.embedder().embed_batch(texts),
                settings=self.settings.section("routing"),
                default_model=self.default_model_id,
                reserve_tokens=int(self.settings.get("context.reserve_for_answer")),
                installed=lambda c: is_installed(c, prefer),
            ),
        )

    def firewall(self) -> Firewall:
        """The prompt firewall (edgeprompt.firewall): scanner, isolation, output validation, audit."""
        from edgeprompt.firewall.classifier import Classifier
        from edgeprompt.firewall.engine import Firewall
        from edgeprompt.firewall.rules import load_pack
        from edgeprompt.firewall.scanner import Scanner, Thresholds
        from edgeprompt.store.audit import AuditLog

        def build() -> Firewall:
            section = self.settings.section("firewall")

            def embed(texts: list[str]) -> Any:  # loaded on the first scan (a classifier of n-grams only never asks)
                return self.embedder().embed_batch(texts)

            scanner = Scanner(
                load_pack(self.paths.models),
                Classifier.load(self.paths.models, embed),
                Thresholds.from_settings(section),
            )
            return Firewall(section, scanner, AuditLog(self.db))

        return self.part("firewall", build)

    def active_firewall(self) -> Firewall | None:
        """The firewall, or None when `[firewall] enabled = false` (its stages then pass everything through)."""
        return self.firewall() if self.settings.get("firewall.enabled") else None

    def chunk_scanner(self) -> Callable[[str], Verdict]:
        """Scan one document chunk at ingestion (flags are audited); `(text) -> Verdict`."""
        return self.firewall().scan_chunk

    def suite_parts(self) -> SuiteParts:
        """What prompt test suites and eval runs use: models, MiniLM and the firewall (each loaded on first use)."""
        from edgeprompt.backends.base import GenerationParams
        from edgeprompt.prompts.suite import SuiteParts

        return SuiteParts(
            self.db,
            self.card,
            self.backend,
            lambda texts: self.embedder().embed_batch(texts),
            lambda text, context: self.firewall().scan(text, context),
            GenerationParams.from_settings(self.settings.section("generation")),
        )

    def toolbox(self) -> ToolBox:
        """The built-in tools (edgeprompt.orchestrate.builtin_tools) with this data home's settings."""
        from edgeprompt.orchestrate.builtin_tools import default_toolbox

        return self.part("toolbox", lambda: default_toolbox(self.documents, self.settings.section("tools")))

    def export_trace(self, trace: Trace) -> None:
        """Send a saved trace to `[observatory] otlp_endpoint` (nothing when it is unset); the pipeline calls it.
        One exporter per endpoint (one thread), built on first use; nothing imported when no endpoint is set."""
        if endpoint := str(self.settings.get("observatory.otlp_endpoint")).strip():
            from edgeprompt.observatory.otlp import LiveExporter

            self.part(f"otlp:{endpoint}", lambda: LiveExporter(endpoint)).submit(trace)

    # -- models -------------------------------------------------------------------------------------
    def default_model_id(self) -> str:
        wanted = str(self.settings.get("model.default"))
        if wanted != "auto":
            return wanted
        from edgeprompt.catalog.recommend import installed_models

        if real := installed_models(self.catalog):  # a pulled or added model answers, not the toy
            return real[0].id
        for candidate in ("demo", "extractive"):
            if self.catalog.has(candidate):
                card = self.catalog.get(candidate)
                if card.backend in ("extractive", "echo") or any(
                    (p := card.path_for(f)) is not None and p.exists() for f in ("mlx", "onnx")
                ):
                    return candidate
        return "echo"

    def card(self, model_id: str | None = None) -> ModelCard:
        return self.catalog.get(model_id or self.default_model_id())

    def backend_kind(self, card: ModelCard, prefer: str | None = None) -> str:
        return resolve_backend(card, prefer or str(self.settings.get("model.backend")))

    def backend(self, model_id: str | None = None, prefer: str | None = None) -> Backend:
        from edgeprompt.backends.extractive import ExtractiveBackend
        from edgeprompt.backends.loader import load_backend
        from edgeprompt.backends.mlx import MlxBackend

        card = self.card(model_id)
        kind = self.backend_kind(card, prefer)
        with self._lock:
            key = (card.id, kind)
            if key not in self._backends:
                loaded = self._backends[key] = load_backend(card, kind, threads=self.threads)
                if isinstance(loaded, ExtractiveBackend):  # it quotes sentences by MiniLM similarity
                    loaded.bind_embedder(self.embedder)
                    loaded.judge = bool(self.settings.get("rag.judge"))  # short answers or quotes
                if isinstance(loaded, MlxBackend) and bool(self.settings.get("cache.prefix")):
                    # MLX: reuse the KV state of shared token prefixes across turns and sessions
                    loaded.prefix_cache = self.cache().prefix_for(card, loaded)
                reuse = getattr(loaded, "reuse_prefixes", None)
                if callable(reuse) and bool(self.settings.get("cache.prefix")):
                    # onnx: live generators kept between turns, rewound to the shared token prefix
                    reuse(int(self.settings.get("cache.prefix_budget_mb")) << 20)
            return self._backends[key]

    def unload_others(self, model_id: str, kind: str) -> list[str]:
        """Close every loaded model of backend `kind` but `model_id` (a server keeps one per backend in memory)."""
        with self._lock:
            gone = [key for key in self._backends if key[1] == kind and key[0] != model_id]
            for key in gone:
                self._backends.pop(key).close()
        return [model for model, _ in gone]

    def embedder(self) -> Embedder:
        from edgeprompt.embed import Embedder

        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder.load(threads=self.threads)
            return self._embedder

    def close(self) -> None:
        for b in self._backends.values():
            b.close()
        self._backends.clear()
        for p in self._parts.values():
            close = getattr(p, "close", None)
            if callable(close):
                close()
        self.db.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
