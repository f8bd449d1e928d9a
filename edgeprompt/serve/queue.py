"""The job queue in front of the model: bounded, fair between clients, drained by one worker thread.

One worker runs every job (pipeline runs, embeddings, feedback writes) in turn, so the runtime's database
connection and each backend's one loaded model are only ever used by one thread, and a laptop's cores go
to one generation at a time instead of thrashing between several. Fair: clients take turns (round robin
over their keys), so one script sending fifty requests does not starve the chat window that sends one.
Bounded: past `limit` waiting jobs, `submit` raises `QueueFull` with a Retry-After estimate.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the queue is full; retry after {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The server is shutting down and takes no new work."""


@dataclass
class Job:
    client: str
    work: Callable[[], Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    future: concurrent.futures.Future[Any] = field(default_factory=concurrent.futures.Future)


class FairQueue:
    """Round robin over clients, FIFO within a client; `limit` jobs waiting at most."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lanes: collections.OrderedDict[str, collections.deque[Job]] = collections.OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, job: Job) -> bool:
        if self._size >= self.limit:
            return False
        self._lanes.setdefault(job.client, collections.deque()).append(job)
        self._size += 1
        return True

    def pop(self) -> Job | None:
        """The next client's oldest job; that client then goes to the back of the round."""
        if not self._lanes:
            return None
        client, lane = next(iter(self._lanes.items()))
        job = lane.popleft()
        del self._lanes[client]
        if lane:
            self._lanes[client] = lane
        self._size -= 1
        return job


class Worker:
    """Runs queued jobs one at a time on its own thread; `close(drain=True)` finishes what was accepted."""

    def __init__(self, limit: int) -> None:
        self._queue = FairQueue(limit)
        self._cond = threading.Condition()
        self._closed = False
        self._busy = False
        self._mean_s = 1.0  # moving average of a job's duration, for Retry-After
        self._thread = threading.Thread(target=self._loop, name="edgeprompt-serve-worker", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> bool:
        return self._busy

    def retry_after(self) -> int:
        return max(1, min(60, round(self._mean_s * (len(self._queue) + 1))))

    def submit(self, client: str, work: Callable[[], Any], cancel: threading.Event | None = None) -> Job:
        job = Job(client, work, cancel or threading.Event())
        with self._cond:
            if self._closed:
                raise Closed()
            if not self._queue.push(job):
                raise QueueFull(self.retry_after())
            self._cond.notify()
        return job

    def _next(self) -> Job | None:
        with self._cond:
            while not len(self._queue) and not self._closed:
                self._cond.wait()
            job = self._queue.pop()
            self._busy = job is not None
            return job

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            if job.cancel.is_set():
                job.future.cancel()  # the client left while it waited: nothing is run for it
            if not job.future.set_running_or_notify_cancel():
                self._busy = False
                continue
            t0 = time.perf_counter()
            try:
                job.future.set_result(job.work())
            except BaseException as e:  # the job's own error goes to its caller; the worker goes on
                job.future.set_exception(e)
            finally:
                self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - t0)
                self._busy = False

    def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop taking jobs; with drain, run the accepted ones first, else cancel them."""
        with self._cond:
            self._closed = True
            if not drain:
                while (job := self._queue.pop()) is not None:
                    job.cancel.set()
                    job.future.cancel()
            self._cond.notify_all()
        self._thread.join(timeout)
