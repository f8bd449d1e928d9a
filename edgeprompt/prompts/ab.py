"""A/B tests between two versions of a prompt, bucketed by session, judged on thumbs-up rate.

A session's arm is a pure function of (experiment id, session id): SHA-256, first 8 bytes, mod 100,
compared with the split (the percentage of sessions that get arm B). Status counts answers per arm
from traces and their thumbs from feedback, with Wilson 95 % intervals and a two-sided two-proportion
z-test (pooled) for whether the rates differ at the 5 % level.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from edgeprompt.canonical import sha256_hex
from edgeprompt.errors import NotFoundError, UsageError
from edgeprompt.prompts.labels import Labels, Move
from edgeprompt.store.db import Database

Z95 = 1.959963984540054
ALPHA = 0.05
ARM_SQL = """
SELECT json_extract(t.attributes, '$."edgeprompt.prompt.ab.arm"') AS arm, count(*) AS n,
       coalesce(sum(f.up), 0) AS up, coalesce(sum(f.rated), 0) AS rated
FROM traces t
LEFT JOIN (SELECT trace_id, sum(kind = 'thumbs' AND score > 0) AS up, sum(kind = 'thumbs') AS rated
           FROM feedback GROUP BY trace_id) f ON f.trace_id = t.id
WHERE json_extract(t.attributes, '$."edgeprompt.prompt.ab.experiment"') = ?
GROUP BY arm
"""


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials ((0, 1) when n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value of H0: equal rates (pooled z-test); None when either arm has no ratings."""
    if n1 == 0 or n2 == 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    label: str
    a_version: str
    b_version: str
    split: int  # percent of sessions that get B
    started_at: float
    stopped_at: float | None = None
    winner: str | None = None

    def arm_for(self, session_id: str) -> tuple[str, str]:
        bucket = int(sha256_hex(f"{self.id}:{session_id}")[:16], 16) % 100
        return ("b", self.b_version) if bucket < self.split else ("a", self.a_version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "label": self.label,
            "a": self.a_version,
            "b": self.b_version,
            "split": self.split,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "winner": self.winner,
        }


def _experiment(r: Any) -> Experiment:
    return Experiment(
        r["id"],
        r["prompt"],
        r["label"],
        r["a_version"],
        r["b_version"],
        r["split"],
        r["started_at"],
        r["stopped_at"],
        r["winner"],
    )


class Experiments:
    def __init__(self, db: Database) -> None:
        self.db = db

    def active(self, name: str) -> Experiment | None:
        row = self.db.query_one("SELECT * FROM prompt_experiments WHERE prompt = ? AND stopped_at IS NULL", (name,))
        return _experiment(row) if row else None

    def latest(self, name: str) -> Experiment:
        row = self.db.query_one("SELECT * FROM prompt_experiments WHERE prompt = ? ORDER BY id DESC LIMIT 1", (name,))
        if row is None:
            raise NotFoundError(f"A/B test of prompt '{name}'; start one with `prompts ab start`")
        return _experiment(row)

    def start(self, name: str, label: str, a: str, b: str, split: int) -> Experiment:
        if a == b:
            raise UsageError("--a and --b are the same version; an A/B test needs two")
        if not 0 <= split <= 100:
            raise UsageError("--split is the percentage of sessions that get B: 0 to 100")
        with self.db.transaction() as c:
            if self.active(name) is not None:
                raise UsageError(f"'{name}' already has an A/B test running; stop it first")
            cur = c.execute(
                "INSERT INTO prompt_experiments(prompt, label, a_version, b_version, split, started_at) "
                "VALUES (?,?,?,?,?,?)",
                (name, label, a, b, split, time.time()),
            )
        exp = self.active(name)
        assert exp is not None and exp.id == cur.lastrowid
        return exp

    def stop(self, exp: Experiment, winner: str, labels: Labels, confirmed: bool = False) -> Move:
        """End the test and point its label at the winner, in one transaction."""
        if winner not in (exp.a_version, exp.b_version):
            raise UsageError(f"the winner must be one of the two arms ({exp.a_version[:8]}, {exp.b_version[:8]})")
        with self.db.transaction() as c:
            c.execute(
                "UPDATE prompt_experiments SET stopped_at = ?, winner = ? WHERE id = ? AND stopped_at IS NULL",
                (time.time(), winner, exp.id),
            )
            return labels.move(exp.name, exp.label, winner, "ab-stop", confirmed=confirmed)

    def status(self, exp: Experiment) -> dict[str, Any]:
        rows = {r["arm"]: r for r in self.db.query(ARM_SQL, (exp.id,))}
        arms: dict[str, Any] = {}
        for arm, version in (("a", exp.a_version), ("b", exp.b_version)):
            r = rows.get(arm)
            n, up, rated = (r["n"], r["up"], r["rated"]) if r else (0, 0, 0)
            lo, hi = wilson(up, rated)
            arms[arm] = {
                "version": version,
                "n": n,
                "rated": rated,
                "thumbs_up": up,
                "thumbs_up_rate": up / rated if rated else None,
                "wilson95": [round(lo, 4), round(hi, 4)],
            }
        p = two_proportion_p(arms["a"]["thumbs_up"], arms["a"]["rated"], arms["b"]["thumbs_up"], arms["b"]["rated"])
        leader = None
        if p is not None and p < ALPHA:
            leader = "a" if arms["a"]["thumbs_up_rate"] > arms["b"]["thumbs_up_rate"] else "b"
        return {
            **exp.as_dict(),
            "running": exp.stopped_at is None,
            "arms": arms,
            "p_value": None if p is None else round(p, 6),
            "significant": leader is not None,
            "better": leader,
        }
