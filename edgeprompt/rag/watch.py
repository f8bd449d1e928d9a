"""Folder watching: re-index what changes under the added folders while the app runs.

`DocumentWatcher(indexer, roots).start()` watches in a background thread (watchfiles: inotify, FSEvents,
ReadDirectoryChangesW, or polling), batches events for `debounce_ms`, and hands the changed paths to
`Indexer.update`; `stop()` ends it. `run()` does the same in the calling thread until `stop()` or Ctrl-C.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from edgeprompt.rag.index import Indexer, IndexSummary
from edgeprompt.rag.loaders import kind_of


class DocumentWatcher:
    def __init__(
        self,
        indexer: Indexer,
        roots: Sequence[Path],
        on_update: Callable[[IndexSummary], object] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        debounce_ms: int = 500,
        force_polling: bool | None = None,
    ) -> None:
        self.indexer = indexer
        self.roots = [Path(r).resolve() for r in roots]
        self.on_update = on_update
        self.on_error = on_error
        self.debounce_ms = debounce_ms
        self.force_polling = force_polling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the watch is in place (events after this are seen)

    def start(self) -> DocumentWatcher:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="edgeprompt-docs-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        from watchfiles import watch

        roots = [str(r) for r in self.roots if r.exists()]
        if not roots:
            self.ready.set()
            return
        changes = watch(
            *roots,
            stop_event=self._stop,
            debounce=self.debounce_ms,
            step=50,
            watch_filter=self._relevant,
            yield_on_timeout=True,
            rust_timeout=200,
            force_polling=self.force_polling,
            raise_interrupt=False,
        )
        for batch in changes:
            self.ready.set()
            if not batch:
                continue
            try:
                summary = self.indexer.update(sorted({Path(p) for _, p in batch}))
            except Exception as e:  # a bad file or a locked database must not kill the watcher
                if self.on_error:
                    self.on_error(e)
                continue
            if self.on_update and (summary.indexed or summary.removed or summary.skipped_count):
                self.on_update(summary)

    def _relevant(self, change: object, path: str) -> bool:
        p = Path(path)
        inside = next((p.relative_to(r) for r in self.roots if p.is_relative_to(r)), p)
        if any(part.startswith(".") for part in inside.parts):
            return False  # hidden files and folders are not indexed either
        return kind_of(p) is not None or not p.suffix  # folders (deleted ones too) have no suffix
