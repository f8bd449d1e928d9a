"""This laptop's Flower SuperNode: start it (`federation join`), find it, stop it (`federation leave`).

The SuperNode runs the coordinator's ClientApp, which reads labelled examples from this data home (named
in `--node-config`) and sends only DP-noised updates. It runs in its own process group with its own
FLWR_HOME under the data home and Flower's outbound traffic (telemetry, update checks, runtime `uv sync`)
switched off; its PID is recorded so `leave` can stop the whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeprompt.errors import FederationError, UsageError
from edgeprompt.paths import Paths

OFFLINE_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
}


@dataclass(frozen=True)
class NodeOptions:
    superlink: str  # HOST:PORT of the coordinator's Fleet API
    port: int = 9094  # this node's runtime (ClientAppIo) API, on 127.0.0.1
    insecure: bool = False
    root_certificates: str | None = None
    auth_key: str | None = None  # SuperNode private key for node authentication


@dataclass(frozen=True)
class NodeState:
    pid: int
    superlink: str
    port: int
    insecure: bool
    started_at: float
    log: str
    command: list[str]


def federation_dir(paths: Paths) -> Path:
    return paths.home / "federation"


def _state_file(paths: Paths) -> Path:
    return federation_dir(paths) / "supernode.json"


def flower_executable(name: str) -> str:
    """The Flower console script next to this Python (the venv's), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise FederationError(f"'{name}' not found; install the federated extra: pip install 'edgeprompt[federated]'")
    return found


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_address(address: str) -> str:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--superlink must be HOST:PORT, got '{address}'")
    return address


def supernode_command(paths: Paths, opts: NodeOptions) -> list[str]:
    cmd = [
        flower_executable("flower-supernode"),
        "--superlink",
        check_address(opts.superlink),
        "--port",
        str(opts.port),
        "--node-config",
        f"data-home={_toml_string(str(paths.home))}",
    ]
    if opts.insecure:
        cmd.append("--insecure")
    if opts.root_certificates:
        cmd += ["--root-certificates", str(Path(opts.root_certificates).expanduser().resolve())]
    if opts.auth_key:
        cmd += ["--auth-supernode-private-key", str(Path(opts.auth_key).expanduser().resolve())]
    return cmd


def flower_env(flwr_home: Path) -> dict[str, str]:
    """Environment for a Flower daemon: offline switches, its own FLWR_HOME, and this venv's bin first on
    PATH (daemons start their helpers, `flower-superexec` and `flwr-clientapp`, by name)."""
    flwr_home.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **OFFLINE_ENV, "FLWR_HOME": str(flwr_home), "PATH": path}


def supernode_env(paths: Paths) -> dict[str, str]:
    return {**flower_env(federation_dir(paths) / "flwr"), "EDGEPROMPT_HOME": str(paths.home)}


def _alive(pid: int) -> bool:
    """Running and not a zombie (a zombie child of ours is reaped on the way)."""
    import psutil

    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _is_supernode(pid: int) -> bool:
    """Guard against a recycled PID: the recorded process must still be a flower-supernode."""
    import psutil

    try:
        return any("flower-supernode" in part for part in psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def running(paths: Paths) -> NodeState | None:
    f = _state_file(paths)
    if not f.exists():
        return None
    try:
        state = NodeState(**json.loads(f.read_text()))
    except (ValueError, TypeError):
        return None
    return state if _alive(state.pid) and _is_supernode(state.pid) else None


def start(paths: Paths, opts: NodeOptions) -> NodeState:
    """Start the SuperNode in its own session (process group); refuse if one already runs."""
    current = running(paths)
    if current is not None:
        raise FederationError(
            f"a SuperNode already runs for this data home (pid {current.pid}, "
            f"superlink {current.superlink}); `edgeprompt federation leave` first"
        )
    cmd = supernode_command(paths, opts)
    folder = federation_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "supernode.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=supernode_env(paths),
            cwd=str(folder),
            start_new_session=True,
        )
    time.sleep(0.5)
    if proc.poll() is not None:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise FederationError(f"flower-supernode exited at once (code {proc.returncode}): {' | '.join(tail)}")
    state = NodeState(proc.pid, opts.superlink, opts.port, opts.insecure, time.time(), str(log), cmd)
    tmp = _state_file(paths).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state)))
    tmp.replace(_state_file(paths))
    return state


def stop_group(pid: int, grace_s: float = 10.0) -> list[int]:
    """Stop the process group led by `pid` and every descendant, including those Flower detaches into
    their own sessions (`flower-superexec`, app processes): SIGTERM, then SIGKILL after `grace_s`.
    Returns the PIDs it signalled."""
    import psutil

    procs = _tree(pid) + [q for q in map(_process, group_members(pid)) if q is not None]
    procs = list({q.pid: q for q in procs}.values())
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    for q in procs:
        with contextlib.suppress(psutil.Error):
            q.terminate()
    _, left = psutil.wait_procs(procs, timeout=grace_s)
    for q in left:
        with contextlib.suppress(psutil.Error):
            q.kill()
    psutil.wait_procs(left, timeout=2.0)
    _alive(pid)  # reap the leader if it is our child
    return [q.pid for q in procs]


def _process(pid: int) -> Any:
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _tree(pid: int) -> list[Any]:
    import psutil

    root = _process(pid)
    if root is None:
        return []
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def live(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (zombies waiting for their parent do not count)."""
    return [p for p in pids if _alive(p)]


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes in process group `pgid`."""
    import psutil

    found = []
    for q in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError):
            if os.getpgid(q.pid) == pgid and q.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(q.pid)
    return found


def stop(paths: Paths) -> NodeState | None:
    """Stop the recorded SuperNode (and its ClientApp processes); None if none was running."""
    state = running(paths)
    if state is not None:
        stop_group(state.pid)
    _state_file(paths).unlink(missing_ok=True)
    return state
