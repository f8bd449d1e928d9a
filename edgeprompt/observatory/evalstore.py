"""Stored evaluation runs (`eval_runs`, `eval_results`) and the comparison of two runs."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from edgeprompt.observatory.evals import CaseOutcome, Suite
    from edgeprompt.store.db import Database

SLOWER = 1.5  # a case this many times slower than before is reported (not a regression by itself) …
SLOWER_MIN_MS = 50.0  # … when it lost at least this much time (milliseconds jitter is not news)


class EvalStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, suite: Suite, model: str, prompt: str | None, judge: str) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self.db.transaction() as c:
            c.execute(
                "INSERT INTO eval_runs(id, suite, suite_path, suite_sha256, model, prompt, started_at, status, "
                "cases, meta) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    suite.name,
                    suite.path,
                    suite.sha256,
                    model,
                    prompt,
                    time.time(),
                    "running",
                    len(suite.cases),
                    json.dumps({"judge": judge}),
                ),
            )
        return run_id

    def add(self, run_id: str, seq: int, o: CaseOutcome) -> None:
        with self.db.transaction() as c:
            c.execute(
                "INSERT INTO eval_results(run_id, seq, case_id, passed, score, output, checks, latency_ms, "
                "output_tokens, trace_id, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    seq,
                    o.case_id,
                    int(o.passed),
                    o.score,
                    o.output,
                    json.dumps([asdict(ch) for ch in o.checks]),
                    o.latency_ms,
                    o.output_tokens,
                    o.trace_id,
                    o.error,
                ),
            )
            c.execute("UPDATE eval_runs SET passed = passed + ? WHERE id = ?", (int(o.passed), run_id))

    def finish(self, run_id: str, status: str) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE eval_runs SET status = ?, finished_at = ? WHERE id = ?", (status, time.time(), run_id))

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique prefix, or 'latest' / 'previous'."""
        if ref in ("latest", "previous"):
            rows = self.db.query("SELECT id FROM eval_runs ORDER BY started_at DESC, rowid DESC LIMIT 2")
            k = 0 if ref == "latest" else 1
            if len(rows) <= k:
                raise NotFoundError(f"eval run '{ref}' (there are {len(rows)} runs)")
            return str(rows[k][0])
        rows = self.db.query("SELECT id FROM eval_runs WHERE substr(id, 1, ?) = ? LIMIT 2", (len(ref), ref))
        if not rows:
            raise NotFoundError(f"eval run '{ref}'; see `edgeprompt eval list`")
        if len(rows) > 1:
            raise UsageError(f"eval run prefix '{ref}' is ambiguous")
        return str(rows[0][0])

    def run(self, ref: str) -> dict[str, Any]:
        rid = self.resolve(ref)
        row = dict(self.db.query_one("SELECT * FROM eval_runs WHERE id = ?", (rid,)))
        row["meta"] = json.loads(row["meta"])
        row["results"] = [
            {**dict(r), "passed": bool(r["passed"]), "checks": json.loads(r["checks"])}
            for r in self.db.query("SELECT * FROM eval_results WHERE run_id = ? ORDER BY seq", (rid,))
        ]
        return row

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        return [
            dict(r)
            for r in self.db.query(
                "SELECT id, suite, model, prompt, started_at, status, cases, passed FROM eval_runs "
                "ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (limit,),
            )
        ]


def _median(xs: list[float]) -> float | None:
    import statistics

    return statistics.median(xs) if xs else None


def _case_change(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if a is None:
        return "new"
    if b is None:
        return "removed"
    if a["passed"] and not b["passed"]:
        return "regressed"
    if not a["passed"] and b["passed"]:
        return "fixed"
    if b["score"] < a["score"]:
        return "regressed"  # still failing, but fewer checks hold than before
    if b["score"] > a["score"]:
        return "improved"
    return "passing" if b["passed"] else "failing"


def compare(store: EvalStore, ref_a: str, ref_b: str) -> dict[str, Any]:
    """Case by case: what regressed from run A to run B (and what got fixed, slower, new or removed)."""
    a, b = store.run(ref_a), store.run(ref_b)
    ra = {r["case_id"]: r for r in a["results"]}
    rb = {r["case_id"]: r for r in b["results"]}
    cases = []
    for cid in list(ra) + [c for c in rb if c not in ra]:
        x, y = ra.get(cid), rb.get(cid)
        change = _case_change(x, y)
        entry: dict[str, Any] = {
            "case_id": cid,
            "change": change,
            "a": None if x is None else {"passed": x["passed"], "score": x["score"]},
            "b": None if y is None else {"passed": y["passed"], "score": y["score"]},
        }
        if y is not None and change in ("regressed", "failing"):
            entry["failed_checks"] = [c["detail"] or c["type"] for c in y["checks"] if not c["passed"]]
            if y["error"]:
                entry["failed_checks"].append(y["error"])
        if (
            x
            and y
            and x["latency_ms"]
            and y["latency_ms"]
            and y["latency_ms"] > SLOWER * x["latency_ms"]
            and y["latency_ms"] - x["latency_ms"] > SLOWER_MIN_MS
        ):
            entry["slower"] = round(y["latency_ms"] / x["latency_ms"], 2)
        cases.append(entry)
    lat_a = _median([r["latency_ms"] for r in a["results"] if r["latency_ms"] is not None])
    lat_b = _median([r["latency_ms"] for r in b["results"] if r["latency_ms"] is not None])
    summary = {
        k: sum(1 for c in cases if c["change"] == k)
        for k in ("regressed", "fixed", "improved", "passing", "failing", "new", "removed")
    }
    return {
        "a": {k: a[k] for k in ("id", "suite", "model", "prompt", "cases", "passed", "status")},
        "b": {k: b[k] for k in ("id", "suite", "model", "prompt", "cases", "passed", "status")},
        "same_suite": a["suite_sha256"] == b["suite_sha256"],
        "summary": summary,
        "regressions": [c for c in cases if c["change"] == "regressed"],
        "median_latency_ms": {"a": lat_a, "b": lat_b},
        "cases": cases,
    }
