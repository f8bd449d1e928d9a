"""The same ClientApp/ServerApp on Flower's Simulation Engine (Ray): two virtual laptops, each mapped to its
own seeded data home through `sim-homes`, three rounds of DP training, one signed pack.

The run happens in a child process (Ray starts its own workers; none may outlive the test). Flower's
in-process `run_simulation` passes an empty run config, so the app runs on its code defaults and the data
homes come through $EDGEPROMPT_SIM_HOMES, as documented for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fed_helpers import context, seed_laptops

from edgeprompt.app import Runtime
from edgeprompt.federation.ledger import PrivacyLedger

pytest.importorskip("ray", reason="the Simulation Engine needs flwr[simulation] (the test set-up installs it)")

APP = Path(__file__).resolve().parents[2] / "federation"
RUN = """
from flwr.simulation import run_simulation
from edgefed import client_app, server_app
run_simulation(server_app=server_app.app, client_app=client_app.app, num_supernodes=2,
               backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": {"num_cpus": 2}})
"""


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("simulation")
    homes = seed_laptops(base, per_family=40)
    env = {
        **os.environ,
        "EDGEPROMPT_SIM_HOMES": os.pathsep.join(map(str, homes)),
        "FLWR_HOME": str(base / "flwr"),
        "PYTHONPATH": os.pathsep.join([str(APP), os.environ.get("PYTHONPATH", "")]),
        "RAY_DEDUP_LOGS": "0",
    }
    proc = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=540)
    summaries = list((base / "flwr" / "edgeprompt-runs").glob("*/summary.json"))
    return {"proc": proc, "homes": homes, "summaries": summaries, "ray_left": _ray_left()}


def _ray_left(grace_s: float = 30.0) -> list[str]:
    """Ray processes still running `grace_s` after the driver exited: its actors notice the driver is gone
    and exit on their own about a second later, so looking at once would count ones on their way out."""
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if any(k in cmd for k in ("raylet", "gcs_server", "ray::", "ray/dashboard")):
            found.append((p, cmd[:200]))
    _, alive = psutil.wait_procs([p for p, _ in found], timeout=grace_s)
    return [cmd for p, cmd in found if p in alive]


@pytest.mark.timeout(600)
def test_three_rounds_on_the_simulation_engine_fill_each_laptops_ledger(simulated: dict[str, Any]) -> None:
    proc = simulated["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(simulated["summaries"]) == 1, proc.stderr[-3000:]
    summary = json.loads(simulated["summaries"][0].read_text())
    assert summary["task"] == "firewall" and summary["rounds_trained"] == 3 and summary["clients"] == 2
    assert all(r["replies"] == 2 and not r["errors"] for r in summary["history"])
    totals = []
    for home in simulated["homes"]:
        with Runtime.open(home) as rt:
            entries = PrivacyLedger(rt.db).entries("firewall")
        assert [e.server_round for e in entries] == [1, 2, 3]  # each virtual node trained on its own home
        totals.append(entries[-1].epsilon_total)
        assert 0 < totals[-1] <= 8.0
    assert sorted(summary["epsilon"].values()) == pytest.approx(sorted(totals))
    assert Path(summary["published"]["pack"]).is_file()
    assert not simulated["ray_left"]  # Ray's workers and daemons stopped with the run


@pytest.mark.timeout(600)
def test_the_laptops_sent_only_weights_and_scalars(simulated: dict[str, Any]) -> None:
    for home in simulated["homes"]:
        lines = [json.loads(s) for s in (home / "federation" / "outgoing.jsonl").read_text().splitlines()]
        assert len(lines) == 3
        assert all(set(e["records"]) == {"arrays", "metrics"} for e in lines)


def test_a_virtual_node_needs_one_home_per_partition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgefed import wire

    from edgeprompt.errors import FederationError

    monkeypatch.delenv(wire.SIM_HOMES_ENV, raising=False)
    node = context(tmp_path)
    assert wire.data_home(node) == str(tmp_path)  # a SuperNode names its own home
    node.node_config.clear()
    assert wire.data_home(node) is None  # no node config at all: the default home
    node.node_config.update({"partition-id": 1, "num-partitions": 2})
    with pytest.raises(FederationError, match="needs 2 data homes"):
        wire.data_home(node)
    monkeypatch.setenv(wire.SIM_HOMES_ENV, os.pathsep.join(["/a", "/b"]))
    assert wire.data_home(node) == "/b"
    node.run_config["sim-homes"] = os.pathsep.join(["/c", "/d"])  # the run config wins over the environment
    assert wire.data_home(node) == "/d"
