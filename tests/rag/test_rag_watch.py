"""Folder watching: new, changed and deleted files are re-indexed while the watcher runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from edgeprompt.rag.watch import DocumentWatcher


def _wait(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_watcher_indexes_changes_until_stopped(rt, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    lib = rt.documents()
    lib.indexer.add([corpus])
    updates = []
    watcher = DocumentWatcher(lib.indexer, [corpus], on_update=updates.append, debounce_ms=200).start()
    try:
        assert watcher.ready.wait(20) and watcher.running

        def paths() -> set[str]:
            return {Path(d.path).name for d in lib.store.documents()}

        (corpus / "notes" / "bike.md").write_text("# Bike\n\nThe bike lock code is 4711.\n", encoding="utf-8")
        assert _wait(lambda: "bike.md" in paths())

        lease = corpus / "lease.md"
        lease.write_text(lease.read_text(encoding="utf-8").replace("2,400", "2,600"), encoding="utf-8")
        assert _wait(lambda: any("2,600" in h.text for h in lib.retriever.search("deposit", 3)))

        (corpus / "notes" / "garden.txt").unlink()
        assert _wait(lambda: "garden.txt" not in paths())
        (corpus / "notes" / "skip.bin").write_bytes(b"\x00\x01")  # not a document type: ignored
    finally:
        watcher.stop()
    assert not watcher.running and updates
    assert sum(u.indexed for u in updates) >= 2 and sum(u.removed for u in updates) == 1
