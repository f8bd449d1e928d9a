"""Nothing leaves the laptop: setup, docs add, ask, observe report --html and the terminal app run with the
network blocked, and succeed.

Two guards: in this process, every socket connect or name lookup that is not loopback (or a Unix socket)
fails the test; for the commands as subprocesses (their workers included), `unshare -rn` runs them in a
network namespace with no usable interface, where any connection attempt fails.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.robustness


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX path
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse and record every non-loopback connect and name lookup made in this process."""
    attempts: list[str] = []
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            attempts.append(f"connect {address!r}")
            raise OSError(f"network blocked by the egress test: connect to {address!r}")
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not _loopback(address):
            attempts.append(f"connect_ex {address!r}")
            return 101  # ENETUNREACH
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _loopback((host if isinstance(host, str) else host.decode(), 0)):
            attempts.append(f"getaddrinfo {host!r}")
            raise socket.gaierror(f"network blocked by the egress test: lookup of {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts
    assert not attempts, f"network use: {attempts}"


def _docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "boiler.md").write_text(
        "# Boiler\n\nThe boiler was serviced on 3 March by Hearth & Co.\n", encoding="utf-8"
    )
    (docs / "page.html").write_text(
        "<html><body><h1>Bins</h1><p>Bins go out on Tuesday night.</p></body></html>", encoding="utf-8"
    )
    return docs


def test_the_guard_catches_a_connection(network_guard: list[str]) -> None:
    with socket.socket() as s, pytest.raises(OSError, match="network blocked"):
        s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed anyway
    with pytest.raises(OSError, match="network blocked"):
        socket.getaddrinfo("example.org", 443)
    with socket.socket() as s:  # loopback is allowed: servers in tests bind 127.0.0.1
        assert s.connect_ex(("127.0.0.1", 9)) != 0
    seen = list(network_guard)
    network_guard.clear()  # the fixture fails a test that left any attempt behind
    assert seen == ["connect ('192.0.2.1', 80)", "getaddrinfo 'example.org'"]


@pytest.mark.slow  # every main command in process under the network guard
def test_commands_in_process_make_no_connection(
    cli,
    embed_home: Path,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    network_guard: list[str],
) -> None:
    code, out, err = cli("setup", "--no-demo", "--json")
    assert code == 0, err
    code, out, err = cli("docs", "add", str(_docs(tmp_path)), "--json")
    assert code == 0 and json.loads(out)["indexed"] == 2, err
    code, out, err = cli("ask", "When was the boiler serviced?", "-m", "extractive", "--json")
    assert code == 0 and "3 March" in json.loads(out)["answer"], err
    code, out, err = cli("ask", "hello", "-m", "echo", "--json")
    assert code == 0, err
    code, out, err = cli("observe", "report", "--since", "all", "--html", str(tmp_path / "report.html"), "--json")
    assert code == 0 and (tmp_path / "report.html").stat().st_size > 0, err


async def test_the_terminal_app_starts_and_answers_without_network(
    embed_home: Path,  # type: ignore[no-untyped-def]
    network_guard: list[str],
) -> None:
    from edgeprompt.tui.app import EdgepromptApp
    from edgeprompt.tui.bubbles import Bubble

    app = EdgepromptApp(embed_home, model="echo")
    answers: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"hello offline", "enter")
        for _ in range(100):  # bounded: at most ~10 s for the echo answer
            await pilot.pause(0.1)
            answers = [b.markdown.source.strip() for b in app.screen.query(Bubble) if b.role == "assistant"]
            if answers and answers[-1]:
                break
    assert answers == ["hello offline"]


@pytest.mark.skipif(
    shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode != 0,
    reason="no user network namespaces here",
)
@pytest.mark.slow  # every main command as a subprocess in a network namespace
def test_commands_in_a_namespace_without_network(embed_home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "EDGEPROMPT_HOME": str(embed_home), "HF_HUB_OFFLINE": "1"}
    docs = _docs(tmp_path)

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "-rn", sys.executable, "-m", "edgeprompt", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    for argv in (
        ("setup", "--no-demo"),
        ("docs", "add", str(docs)),
        ("ask", "When was the boiler serviced?", "-m", "extractive"),
        ("observe", "report", "--since", "all", "--html", str(tmp_path / "r.html")),
    ):
        done = run(*argv)
        assert done.returncode == 0, f"{argv}: {done.stderr[-500:]}"
    assert (tmp_path / "r.html").stat().st_size > 0
