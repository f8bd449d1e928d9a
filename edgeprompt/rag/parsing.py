"""Parsing a file within a time and memory budget: one pathological file is skipped, indexing goes on.

Loaders and the chunker run in a worker process (`python -m edgeprompt.rag.parsing`) that reads jobs on
stdin and answers on stdout, one pickled frame each. The worker lives for one indexing run, so the
interpreter starts once (~0.3 s), not per file. A file that takes longer than `timeout_s` gets its worker
killed (the next file starts a new one); the worker's address space is capped at `memory_mb` (RLIMIT_AS),
so a file that would need more fails there with MemoryError instead of taking the laptop's memory.
A budget with `timeout_s <= 0` parses in this process, with no limits (for debugging and benchmarks).
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from edgeprompt.rag.loaders import OutOfMemory, Skip

if TYPE_CHECKING:
    from edgeprompt.rag.blocks import Loaded
    from edgeprompt.rag.chunking import DocChunk

_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class ParseLimits:
    timeout_s: float = 10.0
    memory_mb: int = 2048


def parse_here(path: Path, data: bytes, max_chars: int, overlap: int) -> tuple[Loaded, list[DocChunk]]:
    """Load and chunk in this process (what the worker runs); raises Skip."""
    from edgeprompt.rag.chunking import chunk
    from edgeprompt.rag.loaders import load

    loaded = load(path, data)
    chunks = chunk(loaded, max_chars, overlap)
    if not chunks:
        raise Skip(f"no text found in this {loaded.kind} file")
    return loaded, chunks


class ParseWorker:
    """Parses files in a worker process; a context manager that stops the worker at the end of a run."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def parse(self, path: Path, data: bytes, max_chars: int, overlap: int) -> tuple[Loaded, list[DocChunk]]:
        if self.limits.timeout_s <= 0:
            return parse_here(path, data, max_chars, overlap)
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            _send(proc.stdin, (str(path), data, max_chars, overlap))
            ready, _, _ = select.select([proc.stdout], [], [], self.limits.timeout_s)
            if not ready:
                self.close()
                raise Skip(f"took longer than {self.limits.timeout_s:g} s to read (the limit per file)")
            reply = _receive(proc.stdout)
        except (BrokenPipeError, EOFError) as e:
            raise Skip(self._died()) from e
        if reply[0] == "skip":
            raise Skip(reply[1])
        return reply[1], reply[2]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()  # killed, not asked: a worker stuck in a parser's C code would not listen
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the worker's life
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "edgeprompt.rag.parsing", str(self.limits.memory_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
            )
            assert self._proc.stdout is not None
            try:  # the interpreter's start is not the first file's time
                _receive(self._proc.stdout)
            except EOFError as e:
                raise Skip(self._died()) from e
        return self._proc

    def _died(self) -> str:
        """The reason a worker stopped mid-file (it is replaced for the next file)."""
        proc = self._proc
        code = proc.wait() if proc is not None else None
        last = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            last = lines[-1][:160] if lines else ""
        self.close()
        if code is not None and code < 0:
            return f"the parser was stopped by signal {-code} while reading this file"
        return f"the parser stopped while reading this file (exit {code}{': ' + last if last else ''})"


def _send(stream: IO[bytes], obj: Any) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)))
    stream.write(body)
    stream.flush()


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    parts, left = [], n
    while left:
        part = stream.read(left)
        if not part:
            raise EOFError("the other side closed the pipe")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _receive(stream: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))  # frames come from our own worker


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not every OS enforces RLIMIT_AS (macOS ignores it)
        pass


def _serve(memory_mb: int) -> None:
    jobs, replies = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout = sys.stderr  # a parser's stray print must not corrupt the reply frames
    _limit_memory(memory_mb)
    import edgeprompt.rag.chunking  # noqa: F401 - imported before "ready", so no file's time pays for it

    _send(replies, ("ready",))
    while True:
        try:
            path, data, max_chars, overlap = _receive(jobs)
        except EOFError:
            return
        try:
            loaded, chunks = parse_here(Path(path), data, max_chars, overlap)
            reply: tuple[Any, ...] = ("ok", loaded, chunks)
        except (MemoryError, OutOfMemory):
            reply = ("skip", f"needs more than {memory_mb} MB of memory to read (the limit per file)")
        except Skip as e:
            reply = ("skip", str(e))
        except RecursionError:
            reply = ("skip", "nested too deeply to read")
        del data
        _send(replies, reply)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
