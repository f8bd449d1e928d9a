"""The fair, bounded queue and its one worker, without HTTP."""

from __future__ import annotations

import threading

import pytest

from edgeprompt.serve.queue import Closed, FairQueue, Job, QueueFull, Worker


def test_clients_take_turns_and_the_queue_is_bounded() -> None:
    q = FairQueue(limit=6)
    for client, n in (("script", 4), ("chat", 1), ("editor", 1)):
        for i in range(n):
            assert q.push(Job(f"{client}", lambda i=i: i))
    assert not q.push(Job("late", lambda: None)) and len(q) == 6
    order = []
    while (job := q.pop()) is not None:
        order.append(job.client)
    # one script with four requests does not make the chat and the editor wait behind all of them
    assert order == ["script", "chat", "editor", "script", "script", "script"]


def test_worker_runs_in_turn_reports_errors_and_drains_on_close() -> None:
    w = Worker(limit=8)
    gate = threading.Event()
    first = w.submit("a", lambda: gate.wait(10) and "first")
    ran: list[str] = []
    jobs = [w.submit(c, lambda c=c: ran.append(c) or c) for c in ("a", "b", "a")]
    boom = w.submit("c", lambda: 1 / 0)
    skipped = w.submit("d", lambda: ran.append("never"))
    skipped.cancel.set()  # the client left while it waited
    gate.set()
    assert first.future.result(10) == "first"
    assert [j.future.result(10) for j in jobs] == ["a", "b", "a"]
    with pytest.raises(ZeroDivisionError):
        boom.future.result(10)
    w.close(drain=True, timeout=10)
    assert skipped.future.cancelled() and "never" not in ran
    with pytest.raises(Closed):
        w.submit("a", lambda: None)


def test_full_worker_queue_raises_with_a_retry_after() -> None:
    w = Worker(limit=1)
    gate = threading.Event()
    w.submit("a", lambda: gate.wait(10))
    try:
        for _ in range(50):  # the worker takes the first job off the queue; then one may wait
            if w.busy:
                break
            threading.Event().wait(0.02)
        w.submit("b", lambda: None)
        with pytest.raises(QueueFull) as e:
            w.submit("c", lambda: None)
        assert 1 <= e.value.retry_after <= 60
    finally:
        gate.set()
        w.close(drain=True, timeout=10)
