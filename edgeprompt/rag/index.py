"""Incremental, crash-safe indexing: walk, skip what is unchanged, replace what changed, drop what is gone.

- A file whose size and mtime match its row is not even read; one whose bytes hash the same is only
  re-stamped. A changed file is loaded, chunked, scanned by the firewall's chunk scanner, embedded (only
  chunks whose content hash has no stored vector) and swapped in with one transaction.
- Each file is committed on its own, so a kill loses at most the files whose embeddings were being
  computed (one batch, ≤ `batch_chunks` chunks) and leaves the index consistent; the next run resumes.
- Chunks from several small files are embedded together (length-sorted batches are ~2× faster).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import UsageError
from edgeprompt.rag.chunking import MAX_CHARS, OVERLAP, DocChunk
from edgeprompt.rag.loaders import Skip, kind_of
from edgeprompt.rag.parsing import ParseLimits, ParseWorker
from edgeprompt.rag.store import DocRow, DocumentStore, NewDocument

if TYPE_CHECKING:
    from edgeprompt.embed import Embedder
    from edgeprompt.rag.blocks import Loaded

Scanner = Callable[[str], Any]  # returns a verdict with .decision (allow|flag|block), .score, .categories
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
MAX_LISTED_SKIPS = 200
DEFAULT_LIMITS = ParseLimits()


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    path: str
    action: str  # reading (about to start this file) | indexed | unchanged | skipped | removed
    # bytes of the files done so far and in all: one large file among small ones is most of the work
    bytes_done: int = 0
    bytes_total: int = 0


@dataclass
class IndexSummary:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    skipped_count: int = 0
    chunks: int = 0  # chunks written for the files indexed now
    embedded: int = 0  # chunks whose vectors were computed now
    reused: int = 0  # chunks whose stored vectors were reused (same content hash)
    flagged: int = 0  # documents flagged by the chunk scanner
    text_bytes: int = 0  # UTF-8 bytes of chunk text written
    bytes_written: int = 0  # bytes the database writes cost (/proc/self/io, else file growth)
    seconds: float = 0.0

    def skip(self, path: str, reason: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < MAX_LISTED_SKIPS:  # a name with undecodable bytes is shown with U+FFFD
            self.skipped.append({"path": os.fsencode(path).decode("utf-8", "replace"), "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        mb = self.text_bytes / 1e6
        return {
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": self.skipped_count,
            "skipped_files": self.skipped,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "flagged": self.flagged,
            "seconds": round(self.seconds, 3),
            "chunks_per_s": round(self.chunks / self.seconds, 1) if self.seconds else 0.0,
            "text_bytes": self.text_bytes,
            "bytes_written": self.bytes_written,
            "bytes_written_per_mb_text": round(self.bytes_written / mb) if mb else None,
        }


def _write_bytes() -> int | None:
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Indexer:
    def __init__(
        self,
        store: DocumentStore,
        embedder: Callable[[], Embedder],
        scanner: Scanner | None = None,
        max_bytes: int = 50_000_000,
        max_chars: int = MAX_CHARS,
        overlap: int = OVERLAP,
        batch_chunks: int = 64,
        limits: ParseLimits = DEFAULT_LIMITS,
    ) -> None:
        self.store = store
        self.limits = limits
        self.embedder = embedder
        self.scanner = scanner
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self.overlap = overlap
        self.batch_chunks = batch_chunks

    # public ------------------------------------------------------------------------------------------------
    def add(
        self, paths: Sequence[str | os.PathLike[str]], progress: Callable[[Progress], None] | None = None
    ) -> IndexSummary:
        roots = [Path(p).expanduser().resolve() for p in paths]
        missing = [str(p) for p in roots if not p.exists()]
        if missing:
            raise UsageError(f"no such file or folder: {missing[0]}")
        for r in roots:
            self.store.add_source(str(r))
        return self._sync(roots, progress)

    def reindex(self, force: bool = False, progress: Callable[[Progress], None] | None = None) -> IndexSummary:
        """Re-walk every added file and folder; `force` re-reads and re-chunks every file."""
        return self._sync([Path(s) for s in self.store.sources()], progress, force)

    def update(self, paths: Iterable[Path]) -> IndexSummary:
        """Bring these files up to date (the watcher's entry point): changed are replaced, gone are removed."""
        summary, t0 = IndexSummary(), time.perf_counter()
        paths = [Path(p).expanduser().absolute() for p in paths]
        gone = [d.path for p in paths if not p.exists() for d in self.store.documents(under=str(p))]
        summary.removed += self._delete(gone, summary)
        here = sorted({p.resolve() for p in paths if p.is_file() and kind_of(p) is not None})
        self._process(here, summary, None, False)
        summary.seconds = time.perf_counter() - t0
        return summary

    def remove(self, path: str | os.PathLike[str]) -> int:
        """Forget a file or everything under a folder (the files themselves are left alone)."""
        p = str(Path(path).expanduser().resolve())
        docs = self.store.documents(under=p)
        if not docs and p not in self.store.sources():
            raise UsageError(f"not in your documents: {path}")
        self.store.remove_source(p)
        return self.store.delete(d.path for d in docs)

    # walking ------------------------------------------------------------------------------------------------
    def _walk(self, roots: Sequence[Path], summary: IndexSummary) -> list[Path]:
        files: set[Path] = set()
        for root in roots:
            if root.is_file():
                files.add(root)
                continue
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
                for name in filenames:
                    if not name.startswith("."):
                        files.add(Path(dirpath) / name)
        out = []
        for f in sorted(files):
            if kind_of(f) is None:
                summary.skip(str(f), f"unsupported file type '{f.suffix or f.name}'")
            else:
                out.append(f)
        return out

    def _sync(
        self, roots: Sequence[Path], progress: Callable[[Progress], None] | None, force: bool = False
    ) -> IndexSummary:
        summary, t0 = IndexSummary(), time.perf_counter()
        files = self._walk([r for r in roots if r.exists()], summary)
        seen = {str(f) for f in files}
        known: dict[str, DocRow] = {}
        for r in roots:
            known.update((d.path, d) for d in self.store.documents(under=str(r)))
        summary.removed += self._delete([p for p in known if p not in seen], summary)
        self._process(files, summary, progress, force)
        summary.seconds = time.perf_counter() - t0
        return summary

    def _delete(self, paths: list[str], summary: IndexSummary) -> int:
        before = _write_bytes()
        n = self.store.delete(paths) if paths else 0
        summary.bytes_written += self._written_since(before)
        return n

    def _written_since(self, before: int | None) -> int:
        after = _write_bytes()
        return max(0, after - before) if before is not None and after is not None else 0

    # one file -----------------------------------------------------------------------------------------------
    def _process(
        self, files: Sequence[Path], summary: IndexSummary, progress: Callable[[Progress], None] | None, force: bool
    ) -> None:
        with ParseWorker(self.limits) as worker:  # started on the first file that needs reading
            self._process_with(worker, files, summary, progress, force)

    def _process_with(
        self,
        worker: ParseWorker,
        files: Sequence[Path],
        summary: IndexSummary,
        progress: Callable[[Progress], None] | None,
        force: bool,
    ) -> None:
        model_changed = self._model_changed()
        pending: list[NewDocument] = []
        sizes = [_size(f) for f in files]
        total, done = sum(sizes), 0
        for i, f in enumerate(files, 1):
            action = "indexed"
            if progress:
                progress(Progress(i - 1, len(files), str(f), "reading", done, total))
            try:
                prepared = self._prepare(worker, f, force or model_changed)
            except Skip as e:
                summary.skip(str(f), str(e))
                prepared, action = None, "skipped"
            except OSError as e:
                summary.skip(str(f), f"cannot read: {e.strerror or e}")
                prepared, action = None, "skipped"
            if prepared is None and action == "indexed":
                summary.unchanged += 1
                action = "unchanged"
            elif prepared is not None:
                pending.append(prepared)
                if sum(len(p.chunks) for p in pending) >= self.batch_chunks:
                    self._commit(pending, summary, reuse=not model_changed)
                    pending = []
            done += sizes[i - 1]
            if progress:
                progress(Progress(i, len(files), str(f), action, done, total))
        self._commit(pending, summary, reuse=not model_changed)
        embedder_hash = self.embedder().model_hash if summary.indexed or model_changed else None
        if embedder_hash and self.store.meta("embed_model") != embedder_hash:
            self.store.set_meta("embed_model", embedder_hash)  # only after a whole run: a kill re-runs it all

    def _model_changed(self) -> bool:
        stored = self.store.meta("embed_model")
        return stored is not None and stored != self.embedder().model_hash

    def _prepare(self, worker: ParseWorker, f: Path, force: bool) -> NewDocument | None:
        """None when the file is unchanged; raises Skip when it cannot be indexed."""
        try:
            str(f).encode("utf-8")
        except UnicodeEncodeError as e:  # undecodable bytes in the name (surrogate escapes): cannot be stored
            raise Skip("file name is not valid UTF-8") from e
        st = f.stat()
        old = self.store.document(str(f))
        if old is not None and not force and old.size == st.st_size and old.mtime == st.st_mtime:
            return None
        if st.st_size > self.max_bytes:
            raise Skip(f"too large ({st.st_size / 1e6:.1f} MB; the limit is {self.max_bytes / 1e6:.0f} MB)")
        data = f.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if old is not None and not force and old.sha256 == digest:
            self.store.touch(old.id, st.st_size, st.st_mtime)
            return None
        loaded, chunks = worker.parse(f, data, self.max_chars, self.overlap)
        flags, findings = self._scan(loaded, chunks)
        return NewDocument(str(f), loaded.kind, loaded.title, st.st_size, st.st_mtime, digest, chunks, flags, findings)

    def _scan(self, loaded: Loaded, chunks: list[DocChunk]) -> tuple[list[bool], list[dict[str, Any]]]:
        """Every chunk and every piece of hidden text goes through the firewall's chunk scanner."""
        if self.scanner is None:
            return [False] * len(chunks), []
        flags, findings = [], []
        for ch in chunks:
            verdict = self._verdict(ch.text)
            flags.append(verdict["decision"] != "allow")
            if flags[-1]:
                findings.append({"where": f"chunk {ch.seq} ({ch.location})", **verdict})
        for text in loaded.hidden:
            verdict = self._verdict(text)
            if verdict["decision"] != "allow":
                findings.append({"where": "hidden text", "excerpt": text[:120], **verdict})
        return flags, findings

    def _verdict(self, text: str) -> dict[str, Any]:
        assert self.scanner is not None
        try:
            v = self.scanner(text)
            return {"decision": str(v.decision), "score": float(v.score), "categories": list(v.categories)}
        except Exception as e:  # fail closed: text the scanner could not judge is kept out of prompts
            return {"decision": "flag", "score": 1.0, "categories": [f"scanner-error:{type(e).__name__}"]}

    def _commit(self, pending: list[NewDocument], summary: IndexSummary, reuse: bool = True) -> None:
        """Embed what has no stored vector (one length-sorted batch), then commit file by file."""
        import numpy as np

        if not pending:
            return
        embedder = self.embedder()
        hashes = {c.sha256: c for p in pending for c in p.chunks}
        stored = self.store.vectors_for(hashes) if reuse else {}
        todo = [h for h in hashes if h not in stored]
        fresh = embedder.embed_batch([hashes[h].embed_input for h in todo]) if todo else np.zeros((0, 384))
        vectors = {h: np.frombuffer(v, dtype=np.float32) for h, v in stored.items()}
        vectors.update(zip(todo, fresh, strict=True))
        summary.embedded += len(todo)
        for p in pending:
            matrix = np.stack([vectors[c.sha256] for c in p.chunks]).astype(np.float32)
            before = _write_bytes()
            self.store.replace(replace(p, vectors=matrix))
            summary.bytes_written += self._written_since(before)
            summary.indexed += 1
            summary.chunks += len(p.chunks)
            summary.reused += sum(1 for c in p.chunks if c.sha256 in stored)
            summary.flagged += int(bool(p.findings))
            summary.text_bytes += sum(len(c.text.encode()) for c in p.chunks)


def _size(f: Path) -> int:
    try:
        return f.stat().st_size
    except OSError:  # gone or unreadable: the file's own step says so
        return 0
