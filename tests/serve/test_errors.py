"""Bad requests get the right status and OpenAI's error shape, and the server keeps serving after each."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

ECHO = '[model]\ndefault = "echo"\n'
GOOD = {"model": "echo", "messages": [{"role": "user", "content": "still here"}]}


def _error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if code is not None:
        assert err["code"] == code, err
    return err


def _still_serving(http: httpx.Client) -> None:
    r = http.post("/chat/completions", json=GOOD)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "still here"


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b'\xff\xfe{"model": 1}', 400, "invalid_utf8", None),
        (b"[1, 2]", 400, "invalid_json", None),
        (json.dumps({"model": 7, "messages": []}).encode(), 400, "invalid_type", "model"),
        (json.dumps({"model": "echo", "messages": "hi"}).encode(), 400, "invalid_type", "messages"),
        (
            json.dumps(
                {"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}
            ).encode(),
            400,
            "invalid_type",
            "temperature",
        ),
        (
            json.dumps({"model": "echo", "messages": [{"role": "user", "content": "x"}], "temperature": 7}).encode(),
            400,
            "invalid_value",
            "temperature",
        ),
        (
            json.dumps({"model": "echo", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}).encode(),
            400,
            "invalid_value",
            "max_tokens",
        ),
        (
            json.dumps({"model": "echo", "messages": [{"role": "wizard", "content": "x"}]}).encode(),
            400,
            "invalid_value",
            "messages[0].role",
        ),
        (
            json.dumps({"model": "echo", "messages": [{"role": "system", "content": "only a system"}]}).encode(),
            400,
            "invalid_value",
            "messages",
        ),
        (
            json.dumps(
                {
                    "model": "echo",
                    "messages": [{"role": "user", "content": "x"}],
                    "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": 12}}},
                }
            ).encode(),
            400,
            "invalid_schema",
            "response_format",
        ),
        (
            json.dumps(
                {
                    "model": "echo",
                    "messages": [{"role": "user", "content": "x"}],
                    "tool_choice": {"type": "function", "function": {"name": "nope"}},
                }
            ).encode(),
            400,
            "invalid_value",
            "tool_choice",
        ),
        (
            json.dumps({"model": "echo", "messages": [{"role": "user", "content": "   "}]}).encode(),
            400,
            "invalid_value",
            "messages",
        ),
    ],
)
def test_bad_chat_requests(serve: Any, body: bytes, status: int, code: str | None, param: str | None) -> None:
    srv = serve(ECHO)
    with httpx.Client(base_url=srv.url, timeout=30) as http:
        err = _error(
            http.post("/chat/completions", content=body, headers={"Content-Type": "application/json"}), status, code
        )
        assert err["param"] == param
        _still_serving(http)


def test_oversize_body_unknown_fields_and_routes(serve: Any) -> None:
    srv = serve(ECHO, max_body_bytes=1_000_000)
    with httpx.Client(base_url=srv.url, timeout=60) as http:
        big = {**GOOD, "padding": "x" * 10_000_000}
        _error(http.post("/chat/completions", json=big), 413, "request_too_large")
        _still_serving(http)
        # fields edgeprompt does not know are ignored, as OpenAI-compatible servers do
        r = http.post(
            "/chat/completions",
            json={**GOOD, "logit_bias": {"1": 2}, "frequency_penalty": 0.5, "some_future_field": [1, 2]},
        )
        assert r.status_code == 200
        _error(http.get("/nowhere"), 404, "unknown_url")
        _error(http.get("/chat/completions"), 405, "method_not_allowed")
        _error(http.post("/embeddings", json={"model": "text-embedding-3-small", "input": "x"}), 404, "model_not_found")
        _error(http.post("/embeddings", json={"model": "all-MiniLM-L6-v2", "input": [[1, 2]]}), 400, "invalid_type")
        _error(http.post("/feedback", json={"trace_id": "abcdef12", "verdict": "up"}), 404)
        _error(http.post("/feedback", json={"trace_id": "abcdef12", "verdict": "sideways"}), 400, "invalid_value")
        _still_serving(http)


def test_api_key_is_required_when_set(serve: Any, client: Any) -> None:
    import openai

    srv = serve(ECHO, api_key="s3cret")
    with httpx.Client(base_url=srv.url, timeout=30) as http:
        _error(http.post("/chat/completions", json=GOOD), 401, "invalid_api_key")
        _error(http.get("/models", headers={"Authorization": "Bearer wrong"}), 401, "invalid_api_key")
        assert http.get(srv.url.removesuffix("/v1") + "/health").json()["status"] == "ok"  # liveness needs no key
    with pytest.raises(openai.AuthenticationError):
        client(srv, key="wrong").models.list()
    r = client(srv, key="s3cret").chat.completions.create(**GOOD)
    assert r.choices[0].message.content == "still here"


def test_another_address_needs_a_key(cli: Any) -> None:
    code, _, err = cli("serve", "--host", "0.0.0.0", "--port", "0")
    assert code == 2 and "api-key" in err and "network" in err


def _hold_worker(srv: Any) -> threading.Event:
    """Keep the one worker busy until the returned event is set (the queue then fills)."""
    release, started = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        release.wait(30)

    srv.api.worker.submit("holder", hold)
    assert started.wait(10)
    return release


def test_full_queue_answers_429_with_retry_after(serve: Any) -> None:
    srv = serve(ECHO, queue_size=1)
    release = _hold_worker(srv)
    with httpx.Client(base_url=srv.url, timeout=30) as http:
        try:
            waiting = threading.Thread(target=lambda: http.post("/chat/completions", json=GOOD))
            waiting.start()
            deadline = time.monotonic() + 10
            while srv.api.worker.waiting < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            r = http.post("/chat/completions", json=GOOD)
            _error(r, 429, "queue_full")
            assert int(r.headers["Retry-After"]) >= 1
        finally:
            release.set()
        waiting.join(30)
        _still_serving(http)


def test_a_client_that_leaves_while_queued_is_never_run(serve: Any) -> None:
    srv = serve(ECHO)
    before = srv.rt.db.query_one("SELECT count(*) FROM traces")[0]
    release = _hold_worker(srv)
    try:
        with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=srv.url, timeout=1.0) as http:
            http.post("/chat/completions", json={**GOOD, "stream": True}).read()
        with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=srv.url, timeout=1.0) as http:
            http.post("/chat/completions", json=GOOD)
        time.sleep(0.6)  # the non-streaming handler notices the disconnect on its next poll
    finally:
        release.set()
    with httpx.Client(base_url=srv.url, timeout=30) as http:
        _still_serving(http)
    # both requests were cancelled while they waited: only the last one made a trace
    assert srv.rt.db.query_one("SELECT count(*) FROM traces")[0] == before + 1


def test_stopping_drains_accepted_requests(serve: Any) -> None:
    """What Ctrl-C does (uvicorn's graceful exit, then the worker's drain): a request already accepted is
    answered, and the server stops afterwards."""
    srv = serve(ECHO)
    release = _hold_worker(srv)
    got: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: got.append(httpx.post(srv.url + "/chat/completions", json=GOOD, timeout=60))
    )
    waiting.start()
    deadline = time.monotonic() + 10
    while srv.api.worker.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stopping = threading.Thread(target=srv.stop)
    stopping.start()
    time.sleep(0.5)
    assert stopping.is_alive()  # it waits for the accepted request
    release.set()
    waiting.join(30)
    stopping.join(60)
    assert not stopping.is_alive() and got and got[0].status_code == 200
    assert got[0].json()["choices"][0]["message"]["content"] == "still here"
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url + "/models", timeout=5)
