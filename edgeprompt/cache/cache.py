"""The answer cache: `Cache.lookup(query)` (exact, then semantic behind guards) and `Cache.store(...)`.

Exact: the request's key (see `keys.py`) names a stored answer. Semantic: the question's MiniLM vector
finds the nearest stored questions asked under the same model, prompt version and context (system prompt,
sources, history); the nearest one above the calibrated threshold is served only if every guard passes:
same retrieved documents, still current, not expired, the content gate (`gate.py`) finds no difference in
numbers, dates, units, names, negation, persons, word order or related terms, and the pair verifier
(`verifier.py`) says the two questions ask the same thing. Counters are kept in memory and written
in one transaction at `flush()` (every few requests and at close), so a hit costs no disk write.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.cache import gate
from edgeprompt.cache.entries import Entry, EntryStore
from edgeprompt.cache.keys import CacheQuery, normalise, weights_hash
from edgeprompt.errors import EdgepromptError

if TYPE_CHECKING:
    from edgeprompt.cache.context import EmbeddingMemo
    from edgeprompt.cache.verifier import Verifier
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.store.db import Database

LEVELS = ("template", "exact", "semantic", "context", "prefix")
FLUSH_EVERY = 16


@dataclass(frozen=True)
class Lookup:
    hit: bool
    level: str  # exact | semantic | fallback | none
    similarity: float = 0.0
    answer: str | None = None
    entry_id: int | None = None
    cached_question: str | None = None
    guards: dict[str, dict[str, Any]] = field(default_factory=dict)
    age_s: float = 0.0
    tokens_saved: int = 0
    seconds_saved: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "hit": self.hit,
            "level": self.level if self.hit else "none",
            "similarity": round(self.similarity, 4),
            "answer": self.answer if self.hit else None,
            "guards": self.guards,
            "entry_id": self.entry_id,
            "cached_question": self.cached_question,
            "age_s": round(self.age_s, 1),
        }

    def trace_attributes(self) -> dict[str, Any]:
        """The lookup on the `cache.lookup` span (and on the trace: the observatory counts hits from there)."""
        attrs: dict[str, Any] = {"edgeprompt.cache.hit": self.hit, "edgeprompt.cache.level": self.level}
        if self.similarity:
            attrs["edgeprompt.cache.similarity"] = round(self.similarity, 4)
        if self.entry_id is not None:
            attrs["edgeprompt.cache.entry_id" if self.hit else "edgeprompt.cache.candidate_id"] = self.entry_id
        vetoes = [k for k, g in self.guards.items() if not g["pass"]]
        if vetoes and not self.hit:
            attrs["edgeprompt.cache.vetoed_by"] = vetoes
        return attrs


MISS = Lookup(False, "none")


@dataclass(frozen=True)
class Stored:
    entry_id: int | None
    reason: str  # "stored" or why not

    def trace_attributes(self) -> dict[str, Any]:
        return {"edgeprompt.cache.stored": self.entry_id is not None, "edgeprompt.cache.store_reason": self.reason}


def _check(passed: bool, detail: str = "") -> dict[str, Any]:
    return {"pass": passed, "detail": detail}


class Cache:
    def __init__(
        self,
        db: Database,
        settings: Mapping[str, Any],
        embedder: Callable[[], Any],
        threshold: float,
        stamp_dir: Path,
        templates: Callable[[], Any] | None = None,
        verifier: Callable[[], Verifier | None] | None = None,
    ) -> None:
        self.entries = EntryStore(db)
        self._verifier_loader = verifier  # loaded on the first candidate that needs judging
        self._verifier: Verifier | None = None
        self._verifier_loaded = False
        self._templates = templates  # the registry's template cache, if loaded: its hits/misses are the template level
        self._templates_seen = (0, 0)
        self.stamp_dir = stamp_dir
        self.settings = settings
        self._embedder = embedder
        self._memo_obj: EmbeddingMemo | None = None
        self._memo_seen = (0, 0)
        self.threshold = threshold
        self.prefixes: dict[str, Any] = {}  # MLX prefix (KV) caches by model key, see prefix_for
        self._pending: dict[str, dict[str, float]] = {}
        self._events = 0
        self._lock = threading.Lock()

    def _memo(self) -> EmbeddingMemo:
        """The context level's embedding memo (the embedder loads on first use)."""
        from edgeprompt.cache.context import EmbeddingMemo

        with self._lock:
            if self._memo_obj is None:
                self._memo_obj = EmbeddingMemo(self._embedder())
            return self._memo_obj

    def model_key(self, card: ModelCard, backend: str) -> str:
        """`<id>/<backend>@<weights hash>`: new weights (or another runtime) are a different model to the cache."""
        return f"{card.id}/{backend}@{weights_hash(card, self.stamp_dir)}"

    @property
    def enabled(self) -> bool:
        return bool(self.settings["enabled"])

    # lookup ---------------------------------------------------------------------------------------------
    def lookup(self, q: CacheQuery, count: bool = True) -> Lookup:
        """Exact, then semantic. `count=False` explains without touching the statistics (`cache lookup`)."""
        if not self.enabled:
            return MISS
        found = self._exact(q)
        self._count("exact", found, count)
        if found.hit or not self.settings["semantic"]:
            return found
        found = self._semantic(q)
        self._count("semantic", found, count)
        return found

    def _exact(self, q: CacheQuery) -> Lookup:
        e = self.entries.by_key(q.exact_key)
        if e is None:
            return MISS
        if e.age_s > float(self.settings["exact_ttl_s"]):
            return Lookup(False, "exact", 1.0, guards={"ttl": _check(False, f"{e.age_s:.0f} s old")})
        if not self.entries.sources_current(e.id):
            self.entries.delete([e.id])
            return Lookup(False, "exact", 1.0, guards={"documents": _check(False, "a source document changed")})
        return self._hit("exact", e, 1.0, {"key": _check(True, "same model, prompt, messages, parameters, sources")})

    def _semantic(self, q: CacheQuery) -> Lookup:
        vec = self._memo().embed(q.question)
        first: Lookup | None = None
        for e, sim in self.entries.nearest(vec, q.scope):
            guards = self.guards(q, e, sim, vec)
            if all(g["pass"] for g in guards.values()):
                return self._hit("semantic", e, sim, guards)
            first = first or Lookup(
                False, "semantic", sim, entry_id=e.id, cached_question=e.question, guards=guards, age_s=e.age_s
            )
            if sim < self.threshold:
                break  # candidates come in order of similarity: the rest are below the threshold too
        return first or MISS

    def verifier(self) -> Verifier | None:
        with self._lock:
            if not self._verifier_loaded:
                self._verifier = self._verifier_loader() if self._verifier_loader is not None else None
                self._verifier_loaded = True
            return self._verifier

    def _verify(
        self, question: str, vec: Any, e: Entry, checks: dict[str, gate.Check] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The pair verifier's verdict on a candidate that passed every other guard (none when not installed)."""
        v = self.verifier()
        stored = self.entries.vector(e.id) if v is not None else None
        if v is None or stored is None:
            return {}
        same, p = v.same(vec, stored, question, e.question, checks)
        return {"verifier": _check(same, f"same question: probability {p:.3f}, needs {v.min_probability:.3f}")}

    def guards(self, q: CacheQuery, e: Entry, sim: float, vec: Any = None) -> dict[str, dict[str, Any]]:
        """Every reason a semantic candidate may not be served, each with pass/fail and why."""
        ttl = float(self.settings["semantic_ttl_s"])
        out = {
            "threshold": _check(sim >= self.threshold, f"similarity {sim:.3f}, threshold {self.threshold:.3f}"),
            "model": _check(e.model_key == q.model_key, e.model_key),
            "prompt": _check(e.prompt_version == q.prompt_version, e.prompt_version or "built-in"),
            "context": _check(e.context_hash == q.context_hash, "system prompt, sources and history"),
            "params": _check(e.params_hash == q.params_hash, "generation parameters"),
            "documents": _check(
                e.docs_hash == q.docs_hash and self.entries.sources_current(e.id),
                "retrieved chunks and document versions",
            ),
            "ttl": _check(e.age_s <= ttl, f"{e.age_s:.0f} s old, ttl {ttl:.0f} s"),
        }
        checks = gate.compare(q.question, e.question)
        out.update({k: c.as_dict() for k, c in checks.items()})
        if vec is not None and all(g["pass"] for g in out.values()):
            out.update(self._verify(q.question, vec, e, checks))
        return out

    def _hit(self, level: str, e: Entry, sim: float, guards: dict[str, dict[str, Any]]) -> Lookup:
        return Lookup(
            True,
            level,
            sim,
            e.answer,
            e.id,
            e.question,
            guards,
            e.age_s,
            e.prompt_tokens + e.completion_tokens,
            e.generation_ms / 1000.0,
        )

    def fallback(self, question: str, model_id: str) -> Lookup:
        """When the model cannot load or run: the freshest answer to this question (or a guarded near one)
        from the same model, whatever the prompt version or context, if younger than `fallback_max_age_s`."""
        if not self.enabled:
            return MISS
        newer = time.time() - float(self.settings["fallback_max_age_s"])
        e = self.entries.by_question(normalise(question), f"{model_id}/", newer)
        if e is not None:
            return self._hit("fallback", e, 1.0, {"age": _check(True, f"{e.age_s:.0f} s old")})
        vec = self._memo().embed(question)
        for cand, sim in self.entries.nearest(vec, None):
            found = gate.compare(question, cand.question)
            checks = {k: c.as_dict() for k, c in found.items()}
            if (
                sim >= self.threshold
                and cand.model_key.startswith(f"{model_id}/")
                and cand.created_at >= newer
                and all(c["pass"] for c in checks.values())
            ):
                checks.update(self._verify(question, vec, cand, found))
                if all(c["pass"] for c in checks.values()):
                    return self._hit("fallback", cand, sim, checks)
        return MISS

    # store ----------------------------------------------------------------------------------------------
    def store(
        self,
        q: CacheQuery,
        answer: str,
        *,
        trace_id: str | None = None,
        usage: tuple[int, int] = (0, 0),
        generation_ms: float = 0.0,
        validated: bool = True,
        finish: str = "stop",
        source: str = "generated",
    ) -> Stored:
        """Keep an answer, unless it must not be served again; the reason says which rule declined it."""
        reason = self._refusal(q, answer, validated, finish)
        if reason:
            return Stored(None, reason)
        vec = self._memo().embed(q.question) if self.settings["semantic"] else None
        entry_id = self.entries.put(q, answer, vec, source, trace_id, usage, generation_ms)
        return Stored(entry_id, "stored")

    def _refusal(self, q: CacheQuery, answer: str, validated: bool, finish: str) -> str:
        if not self.enabled:
            return "the cache is off"
        if not answer.strip():
            return "empty answer"
        if not validated:
            return "the answer did not pass output validation"
        if finish not in ("stop", "length"):
            return f"the answer ended with '{finish}'"
        if q.sampled and not self.settings["store_sampled"]:
            return "sampled answer (temperature > 0); set [cache] store_sampled = true to keep those"
        if self.entries.blocked(q.exact_key):
            return "this answer was thumbed down"
        return ""

    # invalidation ---------------------------------------------------------------------------------------
    def invalidate_documents(self, paths: Iterable[str]) -> int:
        """A document changed or went away: drop every answer that was written from its chunks."""
        return self.entries.delete_for_paths(paths)

    def expire(self) -> int:
        """Drop entries older than the longer of the two TTLs (shorter-lived ones are already not served)."""
        ttl = max(float(self.settings["exact_ttl_s"]), float(self.settings["semantic_ttl_s"]))
        return self.entries.expire(time.time() - ttl)

    def clear(self, level: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        if level in (None, "exact"):
            out["exact"] = self.entries.clear()
        if level == "semantic":
            out["semantic"] = self.entries.clear_vectors()
        if level in (None, "context"):
            out["context"] = self._memo_obj.clear() if self._memo_obj is not None else 0
        if level in (None, "prefix"):
            out["prefix"] = self._clear_prefixes()
        self.flush()
        self.entries.reset_counters([level] if level else list(LEVELS))
        return out

    # prefix (KV) level -------------------------------------------------------------------------------------
    @property
    def prefix_dir(self) -> Path:
        return self.stamp_dir.parent / "prefix"

    def prefix_for(self, card: ModelCard, backend: Any) -> Any:
        """The prefix cache an MLX backend plugs into its `prefix_cache` seam (one per model and template)."""
        from edgeprompt.backends.chat import find_template
        from edgeprompt.cache.prefix import PrefixCache
        from edgeprompt.canonical import sha256_hex

        folder = Path(backend.folder)
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        template = sha256_hex(find_template(folder, config))[:16]
        key = f"{weights_hash(card, self.stamp_dir)}:{template}:kv16"  # the backend keeps KV unquantised
        with self._lock:
            if key not in self.prefixes:
                mb = 1 << 20
                self.prefixes[key] = PrefixCache(
                    backend.model,
                    key,
                    int(self.settings["prefix_budget_mb"]) * mb,
                    self.prefix_dir if self.settings["prefix_disk"] else None,
                    int(self.settings["prefix_disk_budget_mb"]) * mb,
                    self.record,
                )
            return self.prefixes[key]

    def _clear_prefixes(self) -> int:
        n: int = sum(p.clear() for p in self.prefixes.values())
        if self.prefix_dir.exists():
            for f in self.prefix_dir.rglob("*"):
                if f.is_file():
                    n += f.suffix == ".safetensors"
                    f.unlink()
        return n

    # statistics -----------------------------------------------------------------------------------------
    def _count(self, level: str, found: Lookup, count: bool) -> None:
        if not count:
            return
        self.record(
            level,
            hits=int(found.hit),
            misses=int(not found.hit),
            vetoes=int(not found.hit and bool(found.guards)),
            tokens_saved=found.tokens_saved,
            seconds_saved=found.seconds_saved,
        )
        if found.hit and found.entry_id is not None:
            self.entries.touch([found.entry_id], time.time())

    def record(self, level: str, **deltas: float) -> None:
        with self._lock:
            d = self._pending.setdefault(level, {})
            for k, v in deltas.items():
                d[k] = d.get(k, 0) + v
            self._events += 1
            due = self._events >= FLUSH_EVERY
        if due:
            self.flush()

    def _gained(self, level: str, source: Any, seen: tuple[int, int]) -> tuple[int, int]:
        """Add what an in-memory hits/misses counter gained since `seen` to the pending deltas."""
        if source is None:
            return seen
        hits, misses = source.hits - seen[0], source.misses - seen[1]
        if hits or misses:
            d = self._pending.setdefault(level, {})
            d["hits"] = d.get("hits", 0) + hits
            d["misses"] = d.get("misses", 0) + misses
        return source.hits, source.misses

    def flush(self) -> None:
        with self._lock:
            # the context level counts embeddings served by the memo; the template level, compiled templates
            self._memo_seen = self._gained("context", self._memo_obj, self._memo_seen)
            templates = self._templates() if self._templates is not None else None
            self._templates_seen = self._gained("template", templates, self._templates_seen)
            pending, self._pending, self._events = self._pending, {}, 0
        if pending:
            self.entries.add_counters(pending)

    def stats(self) -> dict[str, Any]:
        self.flush()
        counters = self.entries.counters()
        sizes = self.entries.sizes()
        out: dict[str, Any] = {}
        for level in LEVELS:
            c = counters.get(level, {})
            hits, misses = int(c.get("hits", 0)), int(c.get("misses", 0))
            out[level] = {
                "hits": hits,
                "misses": misses,
                "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 0.0,
                "vetoes": int(c.get("vetoes", 0)),
                "tokens_saved": int(c.get("tokens_saved", 0)),
                "seconds_saved": round(float(c.get("seconds_saved", 0.0)), 3),
            }
        out["exact"].update(entries=sizes["entries"], bytes=sizes["entry_bytes"])
        out["semantic"].update(entries=sizes["vectors"], bytes=sizes["vector_bytes"], threshold=self.threshold)
        memory = sum(int(p.memory.nbytes) for p in self.prefixes.values())
        disk = sum(f.stat().st_size for f in self.prefix_dir.rglob("*.safetensors")) if self.prefix_dir.exists() else 0
        out["prefix"].update(bytes=memory + disk, memory_bytes=memory, disk_bytes=disk)
        out["context"]["bytes"] = self._memo_obj.bytes if self._memo_obj is not None else 0
        tc = self._templates() if self._templates is not None else None
        out["template"].update(bytes=0, **({"size": tc.stats()["size"]} if tc is not None else {}))
        return out

    def close(self) -> None:
        self.flush()
        with contextlib.suppress(EdgepromptError):  # housekeeping must never fail a command at exit
            self.expire()  # entries past every TTL are never served; this frees their space
