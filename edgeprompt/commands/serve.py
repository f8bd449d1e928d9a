"""serve [--host 127.0.0.1] [--port 8765] [--api-key KEY]: the local OpenAI-compatible API (edgeprompt.serve)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command
from edgeprompt.errors import UsageError

if TYPE_CHECKING:
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub, "serve", "an OpenAI-compatible API on this machine (chat, models, embeddings, feedback)", common, cmd_serve
    )
    p.add_argument("--host", help="address to listen on (default [serve] host, 127.0.0.1; others need a key)")
    p.add_argument("--port", type=int, help="port (default [serve] port, 8765)")
    p.add_argument(
        "--api-key",
        help="key clients must send as Authorization: Bearer KEY (default [serve] api_key or $EDGEPROMPT_API_KEY)",
    )
    p.add_argument("--queue-size", type=int, help="requests waiting for the model at most (default [serve] queue_size)")
    p.add_argument("--max-body-bytes", type=int, help="largest request body (default [serve] max_body_bytes)")


def cmd_serve(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.serve.app import ServeOptions
    from edgeprompt.serve.server import check_bind, serve

    rt = ctx.runtime()
    s = rt.settings.section("serve")
    host = args.host or str(s["host"])
    port = int(args.port if args.port is not None else s["port"])
    key = args.api_key or str(s["api_key"]) or os.environ.get("EDGEPROMPT_API_KEY") or None
    options = ServeOptions(
        api_key=key,
        queue_size=int(args.queue_size or s["queue_size"]),
        max_body_bytes=int(args.max_body_bytes or s["max_body_bytes"]),
        save=bool(s["save_exchanges"]),
    )
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: not a port number")
    if options.queue_size < 1 or options.max_body_bytes < 1024:
        raise UsageError("--queue-size must be at least 1 and --max-body-bytes at least 1024")
    check_bind(host, key)
    url = f"http://{host}:{port}/v1"
    ctx.emit(
        {"url": url, "auth": key is not None, "queue_size": options.queue_size},
        f"edgeprompt serve · {url} · {'API key required' if key else 'no key (loopback only)'} · Ctrl-C stops",
    )
    serve(rt, options, host, port)
    return 0
