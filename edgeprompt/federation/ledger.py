"""The privacy ledger: every DP-SGD release this laptop made, composed into epsilon per model.

Each federated round trains with Opacus and sends one update. The ledger keeps the mechanism of each
release (noise multiplier σ, Poisson sampling rate q, number of steps) and composes all of a model's
releases with Opacus's RDP accountant, so epsilon is the privacy loss of everything ever sent for that
model, not a per-round figure. Before a round trains, `check` computes what epsilon would be after it
and refuses when that exceeds the user's budget.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edgeprompt.errors import PrivacyBudgetError, UsageError
from edgeprompt.store.db import Database

Mechanism = tuple[float, float, int]  # (noise multiplier, sample rate, steps), as Opacus's accountant keeps it


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    task: str
    run_id: str
    server_round: int
    noise_multiplier: float
    sample_rate: float
    steps: int
    delta: float
    epsilon_round: float
    epsilon_total: float
    num_examples: int
    created_at: float

    @property
    def mechanism(self) -> Mechanism:
        return (self.noise_multiplier, self.sample_rate, self.steps)


@dataclass(frozen=True)
class Budget:
    """Where one model stands: spent so far, the cap, and how many releases made it."""

    task: str
    epsilon: float
    budget: float
    delta: float
    releases: int

    @property
    def remaining(self) -> float:
        return max(0.0, self.budget - self.epsilon)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "epsilon": self.epsilon,
            "budget": self.budget,
            "delta": self.delta,
            "releases": self.releases,
            "remaining": self.remaining,
        }


def compose_epsilon(mechanisms: Iterable[Mechanism], delta: float) -> float:
    """Epsilon at `delta` of running all `mechanisms` in sequence (RDP composition, Opacus's accountant)."""
    from opacus.accountants import RDPAccountant

    history = [(float(s), float(q), int(n)) for s, q, n in mechanisms if n > 0]
    if not history:
        return 0.0
    acc = RDPAccountant()
    acc.history = history
    return float(acc.get_epsilon(delta))


def _entry(r: Any) -> LedgerEntry:
    return LedgerEntry(
        r["id"],
        r["task"],
        r["run_id"],
        r["server_round"],
        r["noise_multiplier"],
        r["sample_rate"],
        r["steps"],
        r["delta"],
        r["epsilon_round"],
        r["epsilon_total"],
        r["num_examples"],
        r["created_at"],
    )


class PrivacyLedger:
    def __init__(self, db: Database) -> None:
        self.db = db

    def entries(self, task: str) -> list[LedgerEntry]:
        return [_entry(r) for r in self.db.query("SELECT * FROM privacy_ledger WHERE task = ? ORDER BY id", (task,))]

    def tasks(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT DISTINCT task FROM privacy_ledger ORDER BY task")]

    def spent(self, task: str, delta: float) -> float:
        """Epsilon of everything released for `task`, recomputed at `delta` from the stored mechanisms."""
        return compose_epsilon((e.mechanism for e in self.entries(task)), delta)

    def budget(self, task: str, budget: float, delta: float) -> Budget:
        """The stored running total (no opacus needed) when it was computed at this delta."""
        entries = self.entries(task)
        if not entries:
            return Budget(task, 0.0, budget, delta, 0)
        last = entries[-1]
        eps = last.epsilon_total if last.delta == delta else self.spent(task, delta)
        return Budget(task, eps, budget, delta, len(entries))

    def projected(self, task: str, planned: Mechanism, delta: float) -> float:
        return compose_epsilon([*(e.mechanism for e in self.entries(task)), planned], delta)

    def check(self, task: str, planned: Mechanism, delta: float, budget: float) -> float:
        """Epsilon after the planned release; raises PrivacyBudgetError (and logs a refusal) if over budget."""
        _validate(planned, delta, budget)
        after = self.projected(task, planned, delta)
        if after > budget or not math.isfinite(after):
            spent = self.spent(task, delta)
            detail = (
                f"{task}: spent ε={spent:.3f}, this round would bring it to ε={after:.3f} > budget "
                f"{budget:g} at δ={delta:g}"
            )
            self.log_event(
                "refused", task, metrics={"epsilon_spent": spent, "epsilon_projected": after, "epsilon_budget": budget}
            )
            raise PrivacyBudgetError(detail)
        return after

    def record(
        self, task: str, run_id: str, server_round: int, mechanism: Mechanism, delta: float, num_examples: int
    ) -> LedgerEntry:
        """Append one release; epsilon_round is the release alone, epsilon_total the composition so far."""
        sigma, q, steps = mechanism
        eps_round = compose_epsilon([mechanism], delta)
        eps_total = self.projected(task, mechanism, delta)
        now = time.time()
        with self.db.transaction() as c:
            cur = c.execute(
                "INSERT INTO privacy_ledger(task, run_id, server_round, noise_multiplier, sample_rate, steps, delta, "
                "epsilon_round, epsilon_total, num_examples, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (task, run_id, server_round, sigma, q, steps, delta, eps_round, eps_total, num_examples, now),
            )
        return LedgerEntry(
            int(cur.lastrowid),
            task,
            run_id,
            server_round,
            sigma,
            q,
            steps,
            delta,
            eps_round,
            eps_total,
            num_examples,
            now,
        )

    def log_event(
        self,
        kind: str,
        task: str,
        run_id: str = "",
        server_round: int | None = None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        with self.db.transaction() as c:
            c.execute(
                "INSERT INTO federation_events(kind, task, run_id, server_round, metrics, created_at) "
                "VALUES (?,?,?,?,?,?)",
                (kind, task, run_id, server_round, json.dumps(metrics or {}, sort_keys=True), time.time()),
            )

    def events(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM federation_events ORDER BY id DESC LIMIT ?", (limit,))
        return [
            {
                "kind": r["kind"],
                "task": r["task"],
                "run_id": r["run_id"],
                "round": r["server_round"],
                "metrics": json.loads(r["metrics"]),
                "at": r["created_at"],
            }
            for r in rows
        ]


def _validate(planned: Mechanism, delta: float, budget: float) -> None:
    sigma, q, steps = planned
    if not sigma > 0:
        raise UsageError("noise multiplier must be > 0: without noise there is no privacy guarantee")
    if not 0 < q <= 1 or steps < 0:
        raise UsageError(f"invalid DP-SGD plan (sample rate {q}, steps {steps})")
    if not 0 < delta < 1 or not budget > 0:
        raise UsageError(f"invalid privacy settings (delta {delta}, budget {budget})")
