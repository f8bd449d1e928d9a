"""The privacy ledger: ε composed across rounds equals Opacus's own accountant; refusal beyond the budget."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from edgeprompt.errors import EdgepromptError, PrivacyBudgetError, UsageError
from edgeprompt.federation.ledger import PrivacyLedger, compose_epsilon

DELTA = 1e-5


def _data(n: int = 120, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _opacus_continuous_epsilon(x: np.ndarray, y: np.ndarray, epochs: int, batch: int, sigma: float) -> float:
    """One PrivacyEngine that trains all epochs in one go: the reference the ledger must match."""
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    model = torch.nn.Linear(x.shape[1], 2)
    model.train()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant="rdp")
        m, opt, loader = engine.make_private(
            module=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            data_loader=DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch),
            noise_multiplier=sigma,
            max_grad_norm=1.0,
            poisson_sampling=True,
        )
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(m(xb), yb).backward()
                opt.step()
    return float(engine.get_epsilon(DELTA))


def test_rounds_in_separate_processes_compose_to_opacus_epsilon(runtime) -> None:  # type: ignore[no-untyped-def]
    """Each round's ClientApp process has a fresh accountant; the ledger's composition of the three
    rounds must equal one PrivacyEngine that ran all the steps."""
    import torch
    from edgefed import task

    x, y = _data()
    ledger = PrivacyLedger(runtime.db)
    totals = []
    for rnd in (1, 2, 3):
        stats = task.train_dp(
            torch.nn.Linear(16, 2), x, y, epochs=2, batch_size=16, lr=0.5, sigma=1.1, max_grad_norm=1.0, seed=rnd
        )
        assert stats.mechanism == task.plan(len(y), 16, 2, 1.1)  # Opacus ran what the ledger checked
        entry = ledger.record("firewall", "run-1", rnd, stats.mechanism, DELTA, len(y))
        totals.append(entry.epsilon_total)
        assert entry.epsilon_round == pytest.approx(compose_epsilon([stats.mechanism], DELTA))
    reference = _opacus_continuous_epsilon(x, y, epochs=6, batch=16, sigma=1.1)
    assert totals[-1] == pytest.approx(reference, rel=1e-9)
    assert ledger.spent("firewall", DELTA) == pytest.approx(reference, rel=1e-9)
    assert totals == sorted(totals) and len(set(totals)) == 3  # strictly increasing
    assert all(np.isfinite(totals))


def test_budget_refuses_the_round_that_would_cross_it(runtime) -> None:  # type: ignore[no-untyped-def]
    ledger = PrivacyLedger(runtime.db)
    mech = (1.0, 0.1, 20)
    one = compose_epsilon([mech], DELTA)
    budget = compose_epsilon([mech, mech], DELTA) + 0.01  # room for exactly two releases
    for rnd in (1, 2):
        assert ledger.check("router", mech, DELTA, budget) <= budget
        ledger.record("router", "r", rnd, mech, DELTA, 200)
    with pytest.raises(PrivacyBudgetError) as err:
        ledger.check("router", mech, DELTA, budget)
    assert "privacy budget" in str(err.value) and "router" in str(err.value)
    assert ledger.budget("router", budget, DELTA).epsilon <= budget
    assert ledger.budget("router", budget, DELTA).releases == 2
    assert ledger.events(1)[0]["kind"] == "refused"
    # the other model's budget is its own
    assert ledger.check("firewall", mech, DELTA, budget) == pytest.approx(one)


def test_ledger_is_append_only(runtime) -> None:  # type: ignore[no-untyped-def]
    ledger = PrivacyLedger(runtime.db)
    ledger.record("firewall", "r", 1, (1.0, 0.1, 10), DELTA, 100)
    for sql in ("UPDATE privacy_ledger SET epsilon_total = 0", "DELETE FROM privacy_ledger"):
        with pytest.raises(EdgepromptError, match="append-only"), runtime.db.transaction() as c:
            c.execute(sql)
    assert len(ledger.entries("firewall")) == 1


@pytest.mark.parametrize("plan", [(0.0, 0.1, 10), (1.0, 0.0, 10), (1.0, 1.5, 10), (1.0, 0.1, -1)])
def test_plans_without_a_guarantee_are_usage_errors(runtime, plan) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        PrivacyLedger(runtime.db).check("firewall", plan, DELTA, 8.0)


def test_status_reads_stored_totals_without_recomputing(runtime) -> None:  # type: ignore[no-untyped-def]
    ledger = PrivacyLedger(runtime.db)
    e = ledger.record("firewall", "r", 1, (1.0, 0.05, 40), DELTA, 640)
    b = ledger.budget("firewall", 8.0, DELTA)
    assert b.epsilon == e.epsilon_total and b.remaining == pytest.approx(8.0 - e.epsilon_total)
    # a different delta is recomputed from the stored mechanisms
    assert ledger.budget("firewall", 8.0, 1e-6).epsilon > e.epsilon_total
