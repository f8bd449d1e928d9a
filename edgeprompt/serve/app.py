"""The Starlette app: OpenAI's routes, each request parsed on the event loop and run by the one worker.

Every chat completion is `pipeline.run` (the code path `ask` takes): firewall in and out, retrieval,
cache, routing, traces. Tokens cross from the worker thread to the response through an asyncio queue;
a client that goes away sets the request's cancel event, which the backend checks between tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from edgeprompt.errors import (
    BackendUnavailableError,
    EdgepromptError,
    ModelLoadError,
    ModelNotFoundError,
    NotFoundError,
    UsageError,
)
from edgeprompt.serve import requests as api
from edgeprompt.serve import responses as out
from edgeprompt.serve.errors import ApiError
from edgeprompt.serve.queue import Closed, Job, QueueFull, Worker
from edgeprompt.serve.toolcalls import find_calls

if TYPE_CHECKING:
    from edgeprompt.pipeline import AskRequest, AskResult
    from edgeprompt.serve.parts import ServerParts

EMBEDDING_MODELS = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
MAX_EMBED_INPUTS = 2048  # as OpenAI
DRAIN_FACTOR = 8  # an oversize body is read (and dropped) up to this many limits, so the client sees the 413
DISCONNECT_POLL_S = 0.25
BATCH_S = 0.02  # streamed text reaches the client at most 50 times a second (as the firewall's hold-back does)


@dataclass(frozen=True)
class ServeOptions:
    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    queue_size: int = 32
    save: bool = True  # keep each exchange in a session, as `ask` does (feedback edits need the answer)


def _status(e: EdgepromptError) -> int:
    if isinstance(e, ModelNotFoundError | NotFoundError):
        return 404
    if isinstance(e, ModelLoadError | BackendUnavailableError):
        return 503
    return 400 if isinstance(e, UsageError) else 500


class Batcher:
    """Tokens from the worker thread to the event loop: the first at once (time to first token), then at most
    one hand-over per BATCH_S. Waking the loop for every token made the two threads trade the GIL per token,
    which cost the worker more than the tokens themselves."""

    def __init__(self, send: Callable[[str], None]) -> None:
        self.send, self.last = send, 0.0
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        now = time.perf_counter()
        if now - self.last >= BATCH_S:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self.parts:
            self.send("".join(self.parts))
            self.parts = []
            self.last = time.perf_counter() if now is None else now


class EventStream(StreamingResponse):
    """Server-sent events without Starlette's second disconnect listener: `Api._watch` already waits for the
    client to leave (and cancels the generation), so the anyio task group StreamingResponse adds for ASGI
    servers older than spec 2.4 (uvicorn says 2.3) would only be a second receiver on the event loop."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.stream_response(send)


def _error(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


class Api:
    def __init__(self, rt: ServerParts, options: ServeOptions) -> None:
        self.rt, self.options = rt, options
        self.worker = Worker(options.queue_size)

    # -- plumbing -----------------------------------------------------------------------------------
    def _authorise(self, request: Request) -> None:
        if self.options.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.options.api_key.encode()):
            raise ApiError(401, "missing or wrong API key (send Authorization: Bearer KEY)", None, "invalid_api_key")

    async def _json(self, request: Request) -> Any:
        self._authorise(request)
        limit = self.options.max_body_bytes
        size, parts, over = 0, [], False
        async for piece in request.stream():
            size += len(piece)
            over = over or size > limit
            if size > limit * DRAIN_FACTOR:
                break
            if not over:
                parts.append(piece)
        if over:
            raise ApiError(
                413,
                f"the request body is over the {limit}-byte limit ([serve] max_body_bytes)",
                None,
                "request_too_large",
            )
        try:
            text = b"".join(parts).decode("utf-8")
        except UnicodeDecodeError as e:
            raise ApiError(400, f"the request body is not UTF-8 (byte {e.start})", None, "invalid_utf8") from None
        try:
            return json.loads(text)
        except ValueError as e:
            raise ApiError(400, f"the request body is not JSON: {e}", None, "invalid_json") from None

    def _submit(self, client: str, work: Callable[[], Any], cancel: threading.Event | None = None) -> Job:
        try:
            return self.worker.submit(client, work, cancel)
        except QueueFull as e:
            raise ApiError(429, f"{e}", None, "queue_full", {"Retry-After": str(e.retry_after)}) from None
        except Closed:
            raise ApiError(503, "the server is shutting down", None, "shutting_down") from None

    @staticmethod
    async def _outcome(job: Job, request: Request) -> Any:
        """The job's result; a client that disconnects while it waits cancels it."""
        fut = asyncio.wrap_future(job.future)
        while True:
            done, _ = await asyncio.wait({fut}, timeout=DISCONNECT_POLL_S)
            if done:
                break
            if await request.is_disconnected():
                job.cancel.set()
        try:
            return fut.result()
        except EdgepromptError as e:
            raise ApiError(_status(e), str(e), None, type(e).__name__) from None

    # -- routes -------------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        from edgeprompt import __version__

        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "queue": {"waiting": self.worker.waiting, "busy": self.worker.busy, "limit": self.options.queue_size},
            }
        )

    async def models(self, request: Request) -> Response:
        self._authorise(request)
        return JSONResponse(out.model_list(self.rt.catalog.cards(), EMBEDDING_MODELS[0]))

    def _ask(self, call: api.ChatCall, cancel: threading.Event) -> AskRequest:
        from edgeprompt.pipeline import AskRequest

        # a session named with no earlier turns continues with the session's own history
        history = None if (call.session_id and not call.history) else call.history
        return AskRequest(
            call.question,
            model=call.model,
            session_id=call.session_id,
            overrides=call.overrides,
            save=self.options.save,
            use_documents=call.documents,
            prompt=call.prompt,
            cancel=cancel,
            history=history,
            system=call.system,
            schema=call.schema,
        )

    def _run(self, ask: AskRequest, on_token: Callable[[str], None] | None) -> AskResult:
        """On the worker: the pipeline, then only the model it used stays loaded for its backend."""
        from edgeprompt.pipeline import Done, Token, run

        result = None
        for ev in run(ask, self.rt):
            if isinstance(ev, Token) and on_token is not None:
                on_token(ev.text)
            elif isinstance(ev, Done):
                result = ev.result
        assert result is not None
        self.rt.unload_others(result.model, result.backend)
        return result

    async def chat(self, request: Request) -> Response:
        peer = request.client.host if request.client else "local"
        call = api.chat_call(await self._json(request), peer)
        if call.model is not None and not self.rt.catalog.has(call.model):
            raise ApiError(
                404, f"the model '{call.model}' does not exist (GET /v1/models lists them)", "model", "model_not_found"
            )
        cancel = threading.Event()
        ask = self._ask(call, cancel)
        if not call.stream:
            result = await self._outcome(self._submit(call.client, lambda: self._run(ask, None), cancel), request)
            content, calls = find_calls(result.answer, call.tools, call.tool_choice)
            comp = out.Completion.new(result.model)
            return JSONResponse(comp.whole(result, content or (None if calls else ""), calls))
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def emit(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, (kind, value))

        def work() -> None:
            batch = Batcher(lambda text: emit("token", text))
            try:
                result = self._run(ask, None if call.buffered else batch.add)
                batch.flush()
                emit("done", result)
            except BaseException as e:
                batch.flush()
                emit("error", e)

        self._submit(call.client, work, cancel)
        return EventStream(
            self._stream(call, events, cancel, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @staticmethod
    async def _watch(request: Request, cancel: threading.Event, events: asyncio.Queue[tuple[str, Any]]) -> None:
        """The body is read, so the next message is the client leaving: cancel the generation (or the queued job)."""
        while (await request.receive())["type"] != "http.disconnect":
            pass
        cancel.set()
        events.put_nowait(("gone", None))

    async def _stream(
        self, call: api.ChatCall, events: asyncio.Queue[tuple[str, Any]], cancel: threading.Event, request: Request
    ) -> AsyncIterator[bytes]:
        comp = out.Completion.new(call.model or api.AUTO)
        watcher = asyncio.create_task(self._watch(request, cancel, events))
        try:
            yield out.sse(comp.chunk({"role": "assistant", "content": ""}))
            while True:
                kind, value = await events.get()
                if kind == "token":
                    yield out.sse(comp.chunk({"content": value}))
                    continue
                if kind == "gone":
                    return
                if kind == "error":
                    status = _status(value) if isinstance(value, EdgepromptError) else 500
                    e = ApiError(status, str(value) or type(value).__name__, None, type(value).__name__)
                    yield out.sse(e.body())
                    break
                result: AskResult = value
                content, calls = find_calls(result.answer, call.tools, call.tool_choice)
                if call.buffered and content and not calls:
                    yield out.sse(comp.chunk({"content": content}, model=result.model))
                if calls:
                    delta = {"content": content or None, "tool_calls": [c.as_dict(i) for i, c in enumerate(calls)]}
                    yield out.sse(comp.chunk(delta, model=result.model))
                yield out.sse(comp.chunk({}, out.finish_reason(result, bool(calls)), result.model, out.extras(result)))
                if call.include_usage:
                    yield out.sse(comp.usage_chunk(result))
                break
            yield out.sse("[DONE]")
        finally:
            watcher.cancel()
            cancel.set()  # after the end this changes nothing; a client gone mid-answer stops the generation

    async def embeddings(self, request: Request) -> Response:
        call = api.embed_call(await self._json(request))
        if call.model not in EMBEDDING_MODELS:
            raise ApiError(
                404,
                f"the embedding model '{call.model}' does not exist (use {EMBEDDING_MODELS[0]})",
                "model",
                "model_not_found",
            )
        if len(call.texts) > MAX_EMBED_INPUTS:
            raise ApiError(400, f"input: at most {MAX_EMBED_INPUTS} texts", "input", "invalid_value")

        def work() -> dict[str, Any]:
            emb = self.rt.embedder()
            vectors = emb.embed_batch(list(call.texts))
            return out.embeddings(call.model, vectors, call.base64, sum(emb.count_tokens(t) for t in call.texts))

        peer = request.client.host if request.client else "local"
        return JSONResponse(await self._outcome(self._submit(peer, work), request))

    async def feedback(self, request: Request) -> Response:
        call = api.feedback_call(await self._json(request))

        def work() -> list[dict[str, Any]]:
            from edgeprompt.observatory.feedbackdata import exchange, resolve_trace
            from edgeprompt.store.feedback import FeedbackStore

            tid = resolve_trace(self.rt.db, call.trace_id)
            store = FeedbackStore(self.rt.db)
            saved = [store.thumbs(tid, call.up, call.comment)] if call.up is not None else []
            if call.edit is not None:
                original = exchange(self.rt.db, tid)[1]
                if original is None:
                    raise UsageError(f"the answer of trace {tid[:12]} was not kept, so it cannot be edited")
                saved.append(store.edit(tid, original, call.edit, None if saved else call.comment))
            return [
                {"id": f.id, "trace_id": f.trace_id, "kind": f.kind, "score": f.score, "edit_distance": f.edit_distance}
                for f in saved
            ]

        peer = request.client.host if request.client else "local"
        return JSONResponse({"object": "list", "data": await self._outcome(self._submit(peer, work), request)})


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "unknown_url", 405: "method_not_allowed"}.get(exc.status_code)
    return _error(ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", None, code))


async def _crash(request: Request, exc: Exception) -> Response:
    return _error(ApiError(500, f"internal error: {type(exc).__name__}: {exc}", None, "internal_error"))


def create_app(rt: ServerParts, options: ServeOptions) -> Starlette:
    a = Api(rt, options)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # uvicorn has stopped taking requests and waited for open ones: finish queued jobs, then stop
        await asyncio.to_thread(a.worker.close, True)

    routes = [
        Route("/health", a.health),
        Route("/v1/models", a.models),
        Route("/v1/chat/completions", a.chat, methods=["POST"]),
        Route("/v1/embeddings", a.embeddings, methods=["POST"]),
        Route("/v1/feedback", a.feedback, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _crash},
    )
    app.state.api = a
    return app
