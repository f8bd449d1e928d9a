"""Several processes ask, index and give feedback at once, for a bounded count and time: every write they
report is in the database (counts add up) and no "database is locked" reaches the user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgeprompt.app import Runtime
from edgeprompt.store.audit import AuditLog

pytestmark = pytest.mark.robustness
WORKER = Path(__file__).with_name("concurrent_worker.py")
COUNT, SECONDS = 10, 150


@pytest.mark.slow  # ten writer processes for up to 150 s
def test_ask_index_and_feedback_at_once(embed_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    with Runtime.open(embed_home):
        pass  # the schema exists before the workers race to create it
    env = {**os.environ, "EDGEPROMPT_HOME": str(embed_home), "HF_HUB_OFFLINE": "1"}
    roles = [("ask", "a"), ("ask", "b"), ("index", "i"), ("feedback", "f")]
    procs = []
    for role, tag in roles:
        argv = [sys.executable, str(WORKER), role, tag, str(COUNT), str(SECONDS), str(tmp_path / f"{tag}.json")]
        procs.append(
            subprocess.Popen(
                [*argv, str(folder)] if role == "index" else argv,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for p in procs:
        out, _ = p.communicate(timeout=SECONDS + 120)
        assert p.returncode == 0, out[-1000:]
    reports = {tag: json.loads((tmp_path / f"{tag}.json").read_text()) for _, tag in roles}

    for tag, r in reports.items():
        assert not r["failures"], (tag, r["failures"][:3])
        assert not r.get("stderr_lines"), (tag, r["stderr_lines"][:3])
    asked = reports["a"]["traces"] + reports["b"]["traces"]
    assert len(asked) == reports["a"]["ok"] + reports["b"]["ok"] > 0
    with Runtime.open(embed_home) as rt:
        q = rt.db.query_one
        marks = ",".join("?" * len(asked))
        assert q(f"SELECT count(*) FROM traces WHERE id IN ({marks})", asked)[0] == len(asked)
        answers = q(f"SELECT count(*) FROM turns WHERE role = 'assistant' AND trace_id IN ({marks})", asked)[0]
        assert answers == len(asked)  # every exchange saved whole
        assert q("SELECT count(*) FROM rag_documents")[0] == reports["i"]["ok"] > 0
        assert q("SELECT count(*) FROM feedback")[0] == reports["f"]["ok"] > 0
        assert str(q("PRAGMA integrity_check")[0]) == "ok"
        assert AuditLog(rt.db).verify().ok
