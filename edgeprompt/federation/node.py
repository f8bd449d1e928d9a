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
    cmd = [flower_executable("flower-supernode"), "--superlink", check_address(opts.superlink),
           "--port", str(opts.port), "--node-config", f"data-home={_toml_string(str(paths.home))}"]
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie we spawned ourselves still answers kill(0); reap it if it is ours
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _is_supernode(pid: int) -> bool:
    """Guard against a recycled PID: on Linux check the command line; elsewhere trust the state file."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return sys.platform != "linux"
    return b"flower-supernode" in cmdline.read_bytes()


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
        raise FederationError(f"a SuperNode already runs for this data home (pid {current.pid}, "
                              f"superlink {current.superlink}); `edgeprompt federation leave` first")
    cmd = supernode_command(paths, opts)
    folder = federation_dir(paths)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "supernode.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=supernode_env(paths), cwd=str(folder), start_new_session=True)
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
    pids = [pid, *descendants(pid)]
    groups = {pid}
    for p in pids:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(p))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for g in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(g, sig)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
        deadline = time.monotonic() + (grace_s if sig == signal.SIGTERM else 2.0)
        while time.monotonic() < deadline:
            if not any(_group_alive(g) for g in groups) and not any(_alive(p) for p in live(pids)):
                return pids
            time.sleep(0.1)
    return pids


def descendants(pid: int) -> list[int]:
    """All processes below `pid` in the process tree (Linux: /proc; elsewhere none are found)."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for d in proc.iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (d / "stat").read_text()
                children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def live(pids: list[int]) -> list[int]:
    """Those of `pids` that still run (zombies waiting for their parent do not count)."""
    out = []
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        if state[state.rindex(")") + 2:].split()[0] != "Z":
            out.append(p)
    return out


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _alive(pgid) or bool(group_members(pgid))


def group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes in group `pgid`; Linux reads /proc, elsewhere asks killpg."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    found = []
    for d in proc.iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (d / "stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    found.append(int(d.name))
    return found


def stop(paths: Paths) -> NodeState | None:
    """Stop the recorded SuperNode (and its ClientApp processes); None if none was running."""
    state = running(paths)
    if state is not None:
        stop_group(state.pid)
    _state_file(paths).unlink(missing_ok=True)
    return state
