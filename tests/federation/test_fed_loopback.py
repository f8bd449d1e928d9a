"""One real Deployment Engine run: a SuperLink and two SuperNodes on 127.0.0.1, the real ClientApp/ServerApp.

Two laptops with different slices of labelled data train the firewall head for two rounds. Laptop 1's
user set ε ≤ 5, so it trains round 1 and refuses round 2; laptop 0 trains both. Afterwards: the run
completed, each laptop's ledger holds what it reported, every message the laptops sent (their audit
logs) held only weights shaped like the model and scalar metrics, the signed pack installs on a third
laptop, and no Flower process is left running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edgefed import task
from fed_helpers import seed_laptops, set_budget

from edgeprompt.app import Runtime
from edgeprompt.federation import node
from edgeprompt.federation.heads import head_spec
from edgeprompt.federation.ledger import PrivacyLedger
from edgeprompt.federation.loopback import Loopback

APP = Path(__file__).resolve().parents[2] / "federation"


@pytest.fixture(scope="module")
def federated_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("loopback")
    homes = seed_laptops(base, per_family=50)
    set_budget(homes[1], 5.0)
    lb = Loopback(base / "flower", homes)
    try:
        lb.start()
        result = lb.run(APP, {"num-server-rounds": 2, "fraction-evaluate": 0.0}, base / "coordinator", timeout_s=420)
        log = lb.log_tail(40)
    finally:
        pids = [p.pid for p in lb.procs]
        lb.close()
    return {"result": result, "homes": homes, "pids": pids, "stopped": lb.stopped, "log": log}


@pytest.mark.timeout(600)
def test_run_completes_and_every_flower_process_is_gone(federated_run: dict[str, Any]) -> None:
    assert federated_run["result"].status == "finished:completed", federated_run["log"]
    assert len(federated_run["pids"]) == 3
    assert len(federated_run["stopped"]) > 3  # Flower's own helpers (superexec) were found and stopped too
    left = node.live(federated_run["stopped"]) + [m for p in federated_run["pids"] for m in node.group_members(p)]
    assert not left, [Path(f"/proc/{m}/cmdline").read_bytes() for m in left]


@pytest.mark.timeout(600)
def test_rounds_epsilon_and_the_refusal(federated_run: dict[str, Any]) -> None:
    summary = federated_run["result"].summary()
    assert summary["rounds_trained"] == 2 and summary["clients"] == 2
    first, second = summary["history"]
    assert first["replies"] == 2 and not first["errors"]
    assert second["replies"] == 1 and len(second["errors"]) == 1
    assert "privacy budget" in next(iter(second["errors"].values()))
    totals = []
    for home, budget, rounds in zip(federated_run["homes"], (8.0, 5.0), (2, 1), strict=True):
        with Runtime.open(home) as rt:
            ledger = PrivacyLedger(rt.db)
            entries = ledger.entries("firewall")
            kinds = [e["kind"] for e in ledger.events(10)]
        assert [e.server_round for e in entries] == list(range(1, rounds + 1))
        eps = [e.epsilon_total for e in entries]
        assert eps == sorted(eps) and all(0 < e <= budget for e in eps)
        totals.append(eps[-1])
        assert kinds.count("trained") == rounds and kinds.count("refused") == (1 if budget == 5.0 else 0)
    assert sorted(summary["epsilon"].values()) == pytest.approx(sorted(totals))  # reported == recorded


@pytest.mark.timeout(600)
def test_every_message_the_laptops_sent_was_weights_and_scalars(federated_run: dict[str, Any]) -> None:
    shapes = {k: list(v) for k, v in task.parameter_shapes(task.build_model(head_spec("firewall"), 0)).items()}
    sent = 0
    for home in federated_run["homes"]:
        for line in (home / "federation" / "outgoing.jsonl").read_text().splitlines():
            entry = json.loads(line)
            assert entry["type"] == "train"
            if entry["error"]:
                assert "records" not in entry
                continue
            records = entry["records"]
            assert set(records) == {"arrays", "metrics"}
            assert {k: a["shape"] for k, a in records["arrays"]["arrays"].items()} == shapes
            assert all(isinstance(v, int | float) for v in records["metrics"]["values"].values())
            sent += 1
    assert sent == 3


@pytest.mark.timeout(600)
def test_the_signed_pack_installs_and_beats_the_majority_class(
    federated_run: dict[str, Any], data_home: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.firewall.classifier import Classifier

    published = federated_run["result"].summary()["published"]
    code, _, err = cli("federation", "import", published["pack"], "--trust-key", published["public_key"])
    assert code == 0, err
    clf = Classifier.load(data_home / "models")
    assert clf.origin == "installed"
    spec = head_spec("firewall")
    xs, ys = [], []
    for home in federated_run["homes"]:
        with Runtime.open(home) as rt:
            d = task.load_local(rt, spec, 0.2)
        xs.append(d.x_test)
        ys.append(d.y_test)
    x, y = np.concatenate(xs), np.concatenate(ys)
    acc = float(((clf.predict_features(x) >= 0.5).astype(int) == y).mean())
    majority = max(float(y.mean()), 1 - float(y.mean()))
    assert acc > majority + 0.05, (acc, majority)
