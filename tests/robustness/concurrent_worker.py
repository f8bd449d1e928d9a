"""One role of the concurrency test, run as its own process: CLI commands in a bounded loop, each through
`edgeprompt.cli.main` (a fresh runtime and database connection per command, as separate invocations have).

Usage: python concurrent_worker.py ROLE TAG COUNT SECONDS REPORT [FOLDER]
  ROLE ask: `ask` COUNT questions; index: write a file and `docs add FOLDER`, COUNT times;
  feedback: rate COUNT answers that have no feedback yet. Writes a JSON report of successes and failures.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from edgeprompt.cli import main


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def unrated_trace(home: Path, skip: set[str]) -> str | None:
    import sqlean

    conn = sqlean.connect(f"file:{home / 'edgeprompt.db'}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT id FROM traces WHERE operation = 'chat' AND id NOT IN "
            "(SELECT trace_id FROM feedback) ORDER BY started_at LIMIT 20"
        ).fetchall()
    finally:
        conn.close()
    return next((r[0] for r in rows if r[0] not in skip), None)


def step(role: str, tag: str, i: int, home: Path, folder: Path | None, done: set[str]) -> tuple[list[str], Any]:
    if role == "ask":
        return ["ask", f"{tag} question number {i}", "-m", "echo", "--json"], None
    if role == "index":
        assert folder is not None
        (folder / f"{tag}-{i:03d}.md").write_text(
            f"# Note {i}\n\nItem {i} of {tag} is kept on shelf {i}.\n", encoding="utf-8"
        )
        return ["docs", "add", str(folder), "--json"], None
    trace = unrated_trace(home, done)
    return (["feedback", trace, "up", "--json"], trace) if trace else ([], None)


def loop(role: str, tag: str, count: int, seconds: float, folder: Path | None) -> dict[str, Any]:
    home = Path(os.environ["EDGEPROMPT_HOME"])
    deadline = time.monotonic() + seconds
    report: dict[str, Any] = {"role": role, "ok": 0, "failures": [], "traces": [], "rated": []}
    i = 0
    while report["ok"] + len(report["failures"]) < count and time.monotonic() < deadline:
        argv, trace = step(role, tag, i, home, folder, set(report["rated"]))
        if not argv:
            time.sleep(0.2)  # no answer to rate yet
            continue
        code, out, err = run(argv)
        i += 1
        if code != 0:
            report["failures"].append({"argv": argv, "code": code, "stderr": err[-400:]})
        else:
            report["ok"] += 1
            if role == "ask":
                report["traces"].append(json.loads(out)["trace_id"])
            elif role == "feedback":
                report["rated"].append(trace)
        report.setdefault("stderr_lines", []).extend(x for x in err.splitlines() if "lock" in x.lower())
    return report


if __name__ == "__main__":
    role, tag, count, seconds, out_path = sys.argv[1:6]
    folder = Path(sys.argv[6]) if len(sys.argv) > 6 else None
    result = loop(role, tag, int(count), float(seconds), folder)
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")
