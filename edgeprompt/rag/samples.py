"""The sample documents that ship in the repository (samples/documents), indexed once on first use so
a newcomer can ask about them at once. Removing them (`docs remove`) is respected: they are not re-added."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgeprompt.rag.library import Library

MARK = "samples_indexed"


def samples_dir() -> Path | None:
    """samples/documents next to the package in a checkout; None in an installed wheel."""
    folder = Path(__file__).resolve().parents[2] / "samples" / "documents"
    return folder if folder.is_dir() else None


def index_samples(lib: Library, progress: Callable[[str], None] | None = None) -> str | None:
    """Index the samples into `lib` unless this data home already did; returns what was done, or None."""
    folder = samples_dir()
    if folder is None or lib.store.meta(MARK):
        return None
    if progress:
        progress("indexing the sample documents (once; about half a minute)…")
    summary = lib.indexer.add([folder])
    lib.store.set_meta(MARK, str(folder))
    return f"indexed {summary.indexed} sample documents from {folder}"
