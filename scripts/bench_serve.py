"""Load test of `edgeprompt serve` next to the same requests through `pipeline.run` in-process.

N concurrent streaming clients (coroutines in this one process, each on its own keep-alive connection, reading
the SSE stream with a lean HTTP/1.1 reader) send R distinct chat requests to a real `edgeprompt serve` process
on 127.0.0.1; the same R requests then run one after another through `pipeline.run` in this process, in a
second fresh data home (same model, same settings, so neither path gets cache hits from the other); the two
take turns in rounds so the machine's load falls on both. Reported:
p50/p95 time to first token (client side, queueing included; and the pipeline's own TTFT inside the
server), per-request decode tokens/s, aggregate completion tokens/s, and the ratio serve / in-process; and the
CPU each side spent per request (the server process, the load generator, the in-process run), because on a
small machine all three share the same cores: what the load generator spends is taken from the server.
Bounded: R requests at most, and clients stop sending once --timeout-s has passed; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

QUESTION = "Question {i}: in a few words, what does a heron eat, and where does it nest?"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def _summary(ttft_ms: list[float], rates: list[float], tokens: int, wall_s: float) -> dict[str, Any]:
    return {
        "requests": len(ttft_ms),
        "ttft_ms_p50": round(_pct(ttft_ms, 0.5), 2),
        "ttft_ms_p95": round(_pct(ttft_ms, 0.95), 2),
        "decode_tokens_per_s_p50": round(statistics.median(rates), 1) if rates else 0.0,
        "completion_tokens": tokens,
        "wall_s": round(wall_s, 3),
        "throughput_tokens_per_s": round(tokens / wall_s, 1) if wall_s > 0 else 0.0,
    }


def _home(root: Path, name: str, model: str, backend: str, card: Any) -> Path:
    from edgeprompt.app import Runtime

    home = root / name
    (home / "cache").mkdir(parents=True)
    (home / "config.toml").write_text(f'[model]\ndefault = "{model}"\nbackend = "{backend}"\n', encoding="utf-8")
    if card is not None:
        with Runtime.open(home) as rt:
            rt.catalog.add(card)
    return home


def _body(i: int, model: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION.format(i=i)}],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream_options": {"include_usage": True},
    }


class Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams, as lean as a load generator can be: it shares the
    machine's cores with the server it measures, and httpx's async stack spent about 45 ms of CPU per streamed
    answer here (a third of what the server itself spends), which slowed the server it was measuring."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.base = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, str]]:
        """Send the request and read the status and headers; the body follows from `body()`."""
        data = json.dumps(payload).encode()
        head = (
            f"POST {self.base}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        for fresh in (self.writer is None, True):
            if fresh:
                await self.close()
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None and self.writer is not None
            self.writer.write(head + data)
            with contextlib.suppress(ConnectionError):
                if line := await self.reader.readline():
                    break
            # the server closed the idle connection (uvicorn's keep-alive timeout, e.g. after a long
            # Retry-After): send it again on a new one
        else:
            raise ConnectionError("the server closed the connection twice without answering")
        status = int(line.split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    async def body(self, headers: dict[str, str]) -> AsyncIterator[bytes]:
        assert self.reader is not None and self.writer is not None
        if headers.get("transfer-encoding") == "chunked":
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                yield await self.reader.readexactly(size)
                await self.reader.readexactly(2)
            await self.reader.readline()  # the empty trailer
        else:
            yield await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.close()

    async def events(self, headers: dict[str, str]) -> AsyncIterator[str]:
        """The `data:` payloads of a server-sent event stream."""
        buf = b""
        async for piece in self.body(headers):
            buf += piece
            *whole, buf = buf.split(b"\n\n")
            for event in whole:
                for line in event.split(b"\n"):
                    if line.startswith(b"data: "):
                        yield line[6:].decode()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _client_run(
    url: str, todo: list[int], model: str, max_tokens: int, deadline: float, out: dict[str, Any]
) -> None:
    conn = Connection(url)
    try:
        while todo and time.monotonic() < deadline:
            i = todo.pop(0)
            t0 = time.perf_counter()
            first = last = None
            usage, extras, failed = None, None, False
            status, headers = await conn.post("/chat/completions", _body(i, model, max_tokens))
            if status != 200:
                async for _ in conn.body(headers):
                    pass
                out["status"][status] = out["status"].get(status, 0) + 1
                if status == 429:
                    todo.append(i)  # designed back-pressure: wait as told, then send it again
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
                continue
            async for data in conn.events(headers):
                if data == "[DONE]":
                    continue
                chunk = json.loads(data)
                if "error" in chunk:
                    failed = True
                    continue  # read the stream to its end, so the connection stays usable
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices", []):
                    if choice["delta"].get("content"):
                        now = time.perf_counter()
                        first = first if first is not None else now
                        last = now
                    extras = chunk.get("edgeprompt", extras)
            key = "stream_error" if failed else 200
            out["status"][key] = out["status"].get(key, 0) + 1
            n = int(usage["completion_tokens"]) if usage else 0
            out["tokens"] += n
            if first is not None:
                out["ttft_ms"].append((first - t0) * 1000)
                if n > 1 and last is not None and last > first:
                    out["rates"].append((n - 1) / (last - first))
            if extras:
                out["server_ttft_ms"].append(float(extras["timings"]["ttft_ms"]))
                out["trace_ids"].append(extras["trace_id"])
    finally:
        await conn.close()


def _cpu_s(proc: Any) -> float:
    """A process's CPU seconds so far (all its threads: the model's own thread pool too)."""
    t = proc.cpu_times()
    return float(t.user + t.system)


def _cpu_ms(cpu_s: float, requests: int) -> float:
    return round(cpu_s * 1000 / requests, 1) if requests else 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"edgeprompt serve exited with {proc.returncode}")
        try:
            if httpx.get(url.removesuffix("/v1") + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("edgeprompt serve did not start")


class Served:
    """A real `edgeprompt serve` process on a free loopback port, and what its clients saw."""

    def __init__(self, home: Path, args: argparse.Namespace) -> None:
        import httpx

        self.home, self.args = home, args
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/v1"
        env = {**os.environ, "EDGEPROMPT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgeprompt", "serve", "--port", str(port), "--queue-size", str(args.queue_size)],
            env=env,
        )
        _wait_up(self.url, self.proc, 120)
        warm = httpx.post(
            self.url + "/chat/completions",
            timeout=300,
            json={**_body(-1, args.model, args.max_tokens), "stream": False},
        )
        warm.raise_for_status()
        self.out: dict[str, Any] = {
            "status": {},
            "tokens": 0,
            "ttft_ms": [],
            "rates": [],
            "server_ttft_ms": [],
            "trace_ids": [],
        }
        self.wall = 0.0
        self.cpu = {"server": 0.0, "client": 0.0}  # CPU seconds in the serve rounds: the server's, the clients'

    def round(self, ids: list[int], deadline: float) -> None:
        import psutil

        todo = list(ids)
        server, client = psutil.Process(self.proc.pid), psutil.Process()
        s0, c0 = _cpu_s(server), _cpu_s(client)

        async def clients() -> None:
            await asyncio.gather(
                *(
                    _client_run(self.url, todo, self.args.model, self.args.max_tokens, deadline, self.out)
                    for _ in range(self.args.clients)
                )
            )

        t0 = time.perf_counter()
        asyncio.run(clients())
        self.wall += time.perf_counter() - t0
        self.cpu["server"] += _cpu_s(server) - s0
        self.cpu["client"] += _cpu_s(client) - c0

    def stop(self) -> dict[str, Any]:
        from edgeprompt.app import Runtime

        self.proc.terminate()  # SIGTERM: uvicorn stops taking requests and drains, as on Ctrl-C
        self.proc.wait(60)
        out = self.out
        with Runtime.open(self.home) as rt:
            saved = sum(rt.traces.get(t) is not None for t in out["trace_ids"])
        return {
            **_summary(out["ttft_ms"], out["rates"], out["tokens"], self.wall),
            "backend_ttft_ms_p50": round(_pct(out["server_ttft_ms"], 0.5), 2),
            "statuses": {str(k): v for k, v in out["status"].items()},
            "errors": sum(v for k, v in out["status"].items() if k not in (200, 429)),
            "traces_saved": saved,
            "cpu_ms_per_request": {k: _cpu_ms(v, len(out["ttft_ms"])) for k, v in self.cpu.items()},
        }


class InProcess:
    """The same requests through `pipeline.run` in this process, one after another (as `ask` runs them)."""

    def __init__(self, home: Path, args: argparse.Namespace) -> None:
        from edgeprompt.app import Runtime

        self.args, self.rt = args, Runtime.open(home)
        self.ttft: list[float] = []
        self.rates: list[float] = []
        self.backend_ttft: list[float] = []
        self.tokens, self.wall, self.cpu = 0, 0.0, 0.0
        self._ask(-1)  # warm-up, as the server's

    def _ask(self, i: int) -> tuple[float | None, float | None, int]:
        from edgeprompt.pipeline import AskRequest, Done, Token, run

        t0, first, last, n = time.perf_counter(), None, None, 0
        req = AskRequest(
            QUESTION.format(i=i),
            model=self.args.model,
            history=(),
            overrides={"max_tokens": self.args.max_tokens, "temperature": 0.0},
        )
        for ev in run(req, self.rt):
            if isinstance(ev, Token):
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
            elif isinstance(ev, Done):
                n = int(ev.result.usage["completion_tokens"])
                self.backend_ttft.append(float(ev.result.timings["ttft_ms"]))
        return ((first - t0) * 1000 if first else None), ((last - first) if first and last else None), n

    def round(self, ids: list[int], deadline: float) -> None:
        import psutil

        me = psutil.Process()
        t0, c0 = time.perf_counter(), _cpu_s(me)
        for i in ids:
            if time.monotonic() > deadline:
                break
            first_ms, span, n = self._ask(i)
            self.tokens += n
            if first_ms is not None:
                self.ttft.append(first_ms)
                if n > 1 and span:
                    self.rates.append((n - 1) / span)
        self.wall += time.perf_counter() - t0
        self.cpu += _cpu_s(me) - c0

    def stop(self) -> dict[str, Any]:
        self.rt.close()
        return {
            **_summary(self.ttft, self.rates, self.tokens, self.wall),
            "backend_ttft_ms_p50": round(_pct(self.backend_ttft[1:], 0.5), 2),
            "cpu_ms_per_request": {"in_process": _cpu_ms(self.cpu, len(self.ttft))},
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--model", default="tiny", help="tiny (built here, the test size), or echo, or an installed id")
    p.add_argument("--backend", default="onnx", choices=["onnx", "mlx"])
    p.add_argument("--queue-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=4, help="the paths alternate in this many rounds")
    p.add_argument("--timeout-s", type=float, default=900, help="both paths stop sending after this long")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        card = None
        if args.model == "tiny":
            from edgeprompt.catalog.demo import build_model
            from edgeprompt.catalog.demo_train import TINY

            card = build_model(root / "tiny", TINY, model_id="tiny").card
        server = Served(_home(root, "served", args.model, args.backend, card), args)
        try:
            inproc = InProcess(_home(root, "inprocess", args.model, args.backend, card), args)
            # the two paths take turns in rounds, so a change in the machine's load falls on both
            deadline = time.monotonic() + args.timeout_s
            ids = list(range(args.requests))
            step = max(1, -(-len(ids) // args.rounds))
            for at in range(0, len(ids), step):
                server.round(ids[at : at + step], deadline)
                inproc.round(ids[at : at + step], deadline)
        finally:
            served = server.stop()
        local = inproc.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = (
        served["throughput_tokens_per_s"] / local["throughput_tokens_per_s"]
        if local["throughput_tokens_per_s"]
        else 0.0
    )
    report = {
        "model": args.model,
        "backend": args.backend,
        "clients": args.clients,
        "max_tokens": args.max_tokens,
        "serve": served,
        "inprocess": local,
        "throughput_ratio": round(ratio, 3),
    }
    if args.json:
        print(json.dumps(report))
    else:
        for name, r in (("serve", served), ("in-process", local)):
            print(
                f"{name:<11} {r['requests']:>4} requests  TTFT p50 {r['ttft_ms_p50']:8.1f} ms  p95 "
                f"{r['ttft_ms_p95']:8.1f} ms  decode p50 {r['decode_tokens_per_s_p50']:8.1f} tok/s  "
                f"throughput {r['throughput_tokens_per_s']:8.1f} tok/s"
            )
        print(
            f"serve: statuses {served['statuses']}, errors {served['errors']}, traces saved "
            f"{served['traces_saved']}; the backend's own TTFT p50 {served['backend_ttft_ms_p50']} ms in the "
            f"server, {local['backend_ttft_ms_p50']} ms in-process"
        )
        cpu = {**served["cpu_ms_per_request"], **local["cpu_ms_per_request"]}
        print(
            f"CPU per request: server {cpu['server']} ms + load generator {cpu['client']} ms, in-process "
            f"{cpu['in_process']} ms (all share the same cores)"
        )
        print(f"throughput ratio serve / in-process: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
