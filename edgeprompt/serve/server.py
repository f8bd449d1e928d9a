"""uvicorn around the app: in the foreground for `edgeprompt serve` (Ctrl-C drains, then exits), or on a
background thread with an ephemeral loopback port for tests and the benchmark."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edgeprompt.errors import UsageError
from edgeprompt.serve.app import ServeOptions, create_app

if TYPE_CHECKING:
    import uvicorn

    from edgeprompt.serve.parts import ServerParts

GRACEFUL_S = 30  # open requests get this long to finish after Ctrl-C; a second Ctrl-C exits at once


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None) -> None:
    """Loopback by default; any other address serves the network, so it needs an API key."""
    if not is_loopback(host) and not api_key:
        raise UsageError(
            f"serving on {host} exposes edgeprompt to the network: set --api-key or [serve] api_key "
            "(clients send Authorization: Bearer KEY), or keep the default 127.0.0.1"
        )


def _server(rt: ServerParts, options: ServeOptions, host: str, port: int) -> uvicorn.Server:
    import uvicorn

    config = uvicorn.Config(
        create_app(rt, options),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_S,
        lifespan="on",
        access_log=False,
        ws="none",
    )  # no websockets routes
    return uvicorn.Server(config)


def serve(rt: ServerParts, options: ServeOptions, host: str, port: int) -> None:
    """Serve until Ctrl-C (uvicorn stops accepting, waits for open requests, the worker drains its queue)."""
    check_bind(host, options.api_key)
    _server(rt, options, host, port).run()


@dataclass
class Running:
    """A server on a background thread; `stop()` shuts it down the way Ctrl-C does."""

    url: str  # http://127.0.0.1:PORT/v1
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 60) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    rt: ServerParts, options: ServeOptions, host: str = "127.0.0.1", port: int = 0, timeout: float = 30
) -> Running:
    """Start on a background thread (port 0: an ephemeral one) and return once it accepts connections."""
    check_bind(host, options.api_key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = _server(rt, options, host, sock.getsockname()[1])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="edgeprompt-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return Running(f"http://{host}:{sock.getsockname()[1]}/v1", server, thread)
