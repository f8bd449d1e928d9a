"""kill -9 in the middle of indexing: the index stays consistent, and resuming gives the clean result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rag_helpers import ROOT, integrity

N_FILES = 150


def _count(db: Path) -> int:
    import sqlean

    try:
        conn = sqlean.connect(str(db), timeout=0.2)
        try:
            return int(conn.execute("SELECT count(*) FROM rag_documents").fetchone()[0])
        finally:
            conn.close()
    except sqlean.Error:
        return 0  # not created or not migrated yet


def _state(home: Path) -> tuple[set[tuple[str, int, str, str]], dict[str, np.ndarray]]:
    from edgeprompt.app import Runtime

    with Runtime.open(home) as rt:
        rows = rt.db.query(
            "SELECT d.path, c.seq, c.sha256, d.sha256, c.id FROM rag_chunks c JOIN rag_documents d ON d.id = c.doc_id"
        )
        vectors = {
            r[2]: np.frombuffer(
                rt.db.query_one("SELECT emb_f FROM rag_vec WHERE rowid = ?", (r[4],))[0], dtype=np.float32
            )
            for r in rows
        }
        assert rt.db.query_one("SELECT count(*) FROM rag_vec")[0] == len(rows)
        per_doc = rt.db.query(
            "SELECT d.chunks, (SELECT count(*) FROM rag_chunks c WHERE c.doc_id = d.id) FROM rag_documents d"
        )
        assert all(a == b for a, b in per_doc)
        rt.db.conn.execute("INSERT INTO rag_fts(rag_fts) VALUES ('integrity-check')")  # raises if FTS is off
    return {tuple(r[:4]) for r in rows}, vectors


def _write_folder(root: Path) -> None:
    topics = ["rent", "insurance", "garden", "recipes", "travel", "car", "taxes", "health", "music", "books"]
    for i in range(N_FILES):
        sub = root / topics[i % len(topics)]
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note-{i:03d}.md").write_text(
            f"# Note {i} about {topics[i % len(topics)]}\n\nEntry {i}: on day {i % 28 + 1} I wrote down item "
            f"{i * 7} and paid {i * 3 + 10} dollars for the {topics[(i * 3) % len(topics)]} errand.\n",
            encoding="utf-8",
        )


@pytest.mark.slow
def test_kill_9_mid_indexing_leaves_a_consistent_index_that_resumes(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    _write_folder(folder)
    home = tmp_path / "killed"
    home.mkdir()
    (home / "config.toml").write_text("[rag]\nembed_batch = 4\n", encoding="utf-8")  # commit every few files
    env = {**os.environ, "EDGEPROMPT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeprompt", "docs", "add", str(folder), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db = home / "edgeprompt.db"
    deadline = time.monotonic() + 180
    while _count(db) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    committed = _count(db)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    assert 10 <= committed < N_FILES, "the kill should land mid-indexing"

    assert integrity(db) == "ok"
    _state(home)  # consistent right after the kill: every chunk has its vector and FTS entry

    from edgeprompt.app import Runtime

    with Runtime.open(home) as rt:
        resumed = rt.documents().indexer.add([folder])
    assert resumed.unchanged == committed and resumed.indexed == N_FILES - committed

    clean = tmp_path / "clean"
    with Runtime.open(clean) as rt:
        rt.documents().indexer.add([folder])
    got, got_vecs = _state(home)
    want, want_vecs = _state(clean)
    assert got == want and len(got) >= N_FILES
    for h, v in want_vecs.items():
        assert np.allclose(got_vecs[h], v, atol=1e-5)
