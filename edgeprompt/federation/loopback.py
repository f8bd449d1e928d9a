"""A real Flower deployment on 127.0.0.1: one SuperLink, N SuperNodes, the `flwr` CLI to submit a run.

Used by `scripts/federation-demo` and the loopback tests. Every daemon gets a free port, its own
FLWR_HOME and its own process group (start_new_session), and `close()` kills every group it started,
so no Flower process outlives the harness. Laptops are simulated by data homes: each SuperNode's
node config points at one, exactly as `edgeprompt federation join` does on a real laptop.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprompt.errors import FederationError
from edgeprompt.federation import node
from edgeprompt.paths import Paths

CONNECTION = "loopback"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml_value(v: Any) -> str:
    """A run-config value as `flwr run -c` wants it (TOML: strings quoted, booleans lower-case)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def _program(p: subprocess.Popen[bytes]) -> str:
    """The program a daemon runs (_spawn passes a list; Popen types `args` as any command form)."""
    return str(p.args[0]) if isinstance(p.args, list) else str(p.args)


@dataclass
class RunResult:
    run_id: int
    status: str
    wall_s: float
    out_dir: Path

    def summary(self) -> dict[str, Any]:
        path = self.out_dir / "summary.json"
        if not path.exists():
            raise FederationError(f"run {self.run_id} ({self.status}) wrote no {path}")
        return dict(json.loads(path.read_text()))


@dataclass
class Loopback:
    state: Path  # scratch folder: FLWR_HOMEs, logs, the SuperLink database
    homes: list[Path]  # one edgeprompt data home per SuperNode
    port: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)  # every PID close() signalled

    def env(self, flwr_home: Path) -> dict[str, str]:
        return node.flower_env(flwr_home)

    def _spawn(self, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(self.state),
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def start(self, timeout_s: float = 60.0) -> Loopback:
        self.state.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        link = self.state / "superlink"
        cmd = [
            node.flower_executable("flower-superlink"),
            "--insecure",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database",
            str(link / "state.db"),
            "--disable-runtime-dependency-installation",
        ]
        self._spawn(cmd, self.env(link / "flwr"), self.state / "superlink.log")
        self._wait_health(timeout_s)
        for i, home in enumerate(self.homes):
            paths = Paths(home)
            opts = node.NodeOptions(f"127.0.0.1:{self.port}", free_port(), insecure=True)
            env = {**node.supernode_env(paths), **self.env(self.state / f"node{i}")}
            self._spawn(node.supernode_command(paths, opts), env, self.state / f"supernode{i}.log")
        self._write_cli_config()
        return self

    def _wait_health(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.port}/health"
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise FederationError(f"flower-superlink exited ({self.procs[0].returncode}): {self.log_tail()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise FederationError(f"SuperLink not healthy after {timeout_s:.0f}s: {self.log_tail()}")

    @property
    def cli_home(self) -> Path:
        return self.state / "cli"

    def _write_cli_config(self) -> None:
        self.cli_home.mkdir(parents=True, exist_ok=True)
        (self.cli_home / "config.toml").write_text(
            f'[superlink]\ndefault = "{CONNECTION}"\n\n[superlink.{CONNECTION}]\n'
            f'address = "127.0.0.1:{self.port}"\ninsecure = true\n'
        )

    def flwr(self, *args: str, timeout_s: float = 120.0) -> str:
        cmd = [node.flower_executable("flwr"), *args]
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=self.env(self.cli_home), timeout=timeout_s, cwd=str(self.state)
        )
        if done.returncode != 0:
            raise FederationError(
                f"`flwr {args[0]}` failed ({done.returncode}): {(done.stdout + done.stderr).strip()[-600:]}"
            )
        return done.stdout

    def run(self, app_dir: Path, config: dict[str, Any], out_dir: Path, timeout_s: float = 600.0) -> RunResult:
        """Submit the Flower App, poll until it finishes (`--stream` exits 0 even on failure), return status."""
        t0 = time.monotonic()
        overrides = [f"{k}={toml_value(v)}" for k, v in {**config, "out-dir": str(out_dir)}.items()]
        cfg_args = [a for kv in overrides for a in ("-c", kv)]
        out = json.loads(self.flwr("run", str(app_dir), CONNECTION, "--format", "json", *cfg_args))
        if not out.get("success", True) or "run-id" not in out:
            raise FederationError(f"flwr run refused the app: {out}")
        run_id = int(out["run-id"])
        status = self.wait(run_id, t0 + timeout_s)
        return RunResult(run_id, status, time.monotonic() - t0, out_dir)

    def status(self, run_id: int) -> str:
        doc = json.loads(self.flwr("list", CONNECTION, "--run-id", str(run_id), "--format", "json"))
        runs = doc.get("runs") or []
        return str(runs[0].get("status", "")) if runs else ""

    def wait(self, run_id: int, deadline: float) -> str:
        while time.monotonic() < deadline:
            status = self.status(run_id)
            if status.startswith("finished"):
                return status
            for p in self.procs:
                if p.poll() is not None:
                    raise FederationError(
                        f"a Flower daemon exited ({_program(p)}, code {p.returncode}): {self.log_tail()}"
                    )
            time.sleep(2.0)
        with contextlib.suppress(FederationError, subprocess.TimeoutExpired):
            self.flwr("stop", str(run_id), CONNECTION)
        raise FederationError(f"run {run_id} did not finish in time")

    def log_tail(self, lines: int = 15) -> str:
        path = self.state / "superlink.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def close(self) -> None:
        """Stop every process this harness started and all their descendants (SuperNodes first)."""
        for proc in reversed(self.procs):
            self.stopped += node.stop_group(proc.pid, grace_s=5.0)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.procs.clear()

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
