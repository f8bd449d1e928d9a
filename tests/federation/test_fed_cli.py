"""`edgeprompt federation status | ledger | join | leave`: what the laptop's user sees and controls."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edgeprompt.app import Runtime
from edgeprompt.federation import node
from edgeprompt.federation.ledger import PrivacyLedger
from edgeprompt.federation.loopback import free_port
from edgeprompt.paths import Paths


def test_status_shows_epsilon_against_the_budget(seeded_home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    with Runtime.open(seeded_home) as rt:
        PrivacyLedger(rt.db).record("firewall", "9", 1, (1.0, 0.1, 20), 1e-5, 200)
    code, out, _ = cli("federation", "status", "--json")
    assert code == 0
    obj = json.loads(out)
    fw = next(b for b in obj["budgets"] if b["task"] == "firewall")
    assert 0 < fw["epsilon"] < fw["budget"] == 8.0 and fw["releases"] == 1 and fw["delta"] == 1e-5
    assert obj["node"] is None and obj["examples"]["firewall"] > 0
    code, text, _ = cli("federation", "status")
    assert code == 0 and "firewall" in text and "/ 8" in text and "not running" in text
    code, out, _ = cli("federation", "ledger", "--json")
    assert code == 0 and [e["server_round"] for e in json.loads(out)["entries"]] == [1]


def test_join_needs_consent(seeded_home: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = cli("federation", "join", "--superlink", "127.0.0.1:9092", "--insecure")
    assert code == 2 and "consent" in err and "--yes" in err
    assert node.running(Paths(seeded_home)) is None


def test_join_declined_at_the_prompt(seeded_home: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    code, _, err = cli("federation", "join", "--superlink", "127.0.0.1:9092", "--insecure")
    assert code == 2 and "consent was not given" in err
    assert "What never leaves it" in err  # the prompt said what is shared and what is not
    assert node.running(Paths(seeded_home)) is None


@pytest.mark.parametrize("address", ["localhost", "host:port", ":9092", "host:70000"])
def test_join_rejects_a_bad_address(cli, address: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("federation", "join", "--superlink", address, "--yes")
    assert code == 2 and "HOST:PORT" in err


def test_join_starts_a_supernode_that_leave_stops(seeded_home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A real flower-supernode, pointed at a port where no SuperLink listens (it keeps retrying)."""
    paths = Paths(seeded_home)
    try:
        code, out, err = cli(
            "federation",
            "join",
            "--superlink",
            f"127.0.0.1:{free_port()}",
            "--insecure",
            "--port",
            str(free_port()),
            "--yes",
            "--json",
        )
        assert code == 0, err
        joined = json.loads(out)
        state = node.running(paths)
        assert state is not None and state.pid == joined["pid"]
        assert f'data-home="{seeded_home}"' in " ".join(state.command)  # the node trains on this home
        assert "--insecure" in state.command
        assert os.getpgid(state.pid) == state.pid  # its own process group, so leave stops its children too
        code, _, err = cli("federation", "join", "--superlink", "127.0.0.1:9", "--insecure", "--yes")
        assert code == 2 and "already runs" in err
        code, out, _ = cli("federation", "status", "--json")
        assert json.loads(out)["node"]["pid"] == state.pid
        code, out, _ = cli("federation", "leave", "--json")
        assert code == 0 and json.loads(out) == {"stopped": True, "pid": state.pid}
        assert node.running(paths) is None
        assert node.group_members(state.pid) == [] and node.live([state.pid]) == []
    finally:
        node.stop(paths)
    code, out, _ = cli("federation", "leave", "--json")
    assert code == 0 and json.loads(out)["stopped"] is False


def test_supernode_command_for_tls_and_node_auth(tmp_path: Path) -> None:
    opts = node.NodeOptions(
        "link.example.org:9092",
        9100,
        insecure=False,
        root_certificates=str(tmp_path / "ca.pem"),
        auth_key=str(tmp_path / "node.key"),
    )
    cmd = node.supernode_command(Paths(tmp_path / "home"), opts)
    assert "--insecure" not in cmd
    assert cmd[cmd.index("--root-certificates") + 1] == str(tmp_path / "ca.pem")
    assert cmd[cmd.index("--auth-supernode-private-key") + 1] == str(tmp_path / "node.key")
    env = node.supernode_env(Paths(tmp_path / "home"))
    assert env["FLWR_TELEMETRY_ENABLED"] == "0" and env["FLWR_DISABLE_UPDATE_CHECK"] == "1"
    assert env["FLWR_HOME"].startswith(str(tmp_path / "home"))
