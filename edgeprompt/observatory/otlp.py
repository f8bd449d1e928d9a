"""OpenTelemetry export: traces as OTLP/JSON (a file, or live to an OTLP/HTTP collector the user configured).

Each request becomes one root span "chat {model}" (attributes `gen_ai.*` + `edgeprompt.*`) with one child
span per pipeline stage; feedback becomes `gen_ai.evaluation.result` events on the root span. Content
(prompt and answer text, feedback comments, edited answers, question keywords) is left out unless asked
for with `with_content`. IDs are hex strings and 64-bit integers are decimal strings, per the OTLP/JSON
encoding of the protobuf messages.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from edgeprompt import __version__

if TYPE_CHECKING:
    from edgeprompt.store.db import Database
    from edgeprompt.store.traces import Trace

CONTENT_KEYS = frozenset(
    (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.evaluation.explanation",
    )
)
SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3
STATUS = {"ok": 1, "error": 2}  # STATUS_CODE_OK / _ERROR; cancelled stays UNSET (0)


def is_content(key: str) -> bool:
    return key in CONTENT_KEYS or key.endswith((".content", ".text", ".messages"))


def any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [any_value(x) for x in v]}}
    if isinstance(v, Mapping):
        return {"kvlistValue": {"values": attributes(v, True)}}
    return {"stringValue": "" if v is None else str(v)}


def attributes(attrs: Mapping[str, Any], with_content: bool) -> list[dict[str, Any]]:
    return [
        {"key": k, "value": any_value(v)}
        for k, v in sorted(attrs.items())
        if v is not None and (with_content or not is_content(k))
    ]


def _span_id(trace_id: str, seq: int) -> str:
    return hashlib.sha256(f"{trace_id}/{seq}".encode()).hexdigest()[:16]


def _nanos(seconds: float) -> str:
    return str(round(seconds * 1e9))


def _feedback_events(rows: Iterable[Mapping[str, Any]], with_content: bool) -> list[dict[str, Any]]:
    events = []
    for f in rows:
        attrs: dict[str, Any] = {"gen_ai.evaluation.name": "user_feedback" if f["kind"] == "thumbs" else "user_edit"}
        if f["kind"] == "thumbs":
            attrs.update(
                {
                    "gen_ai.evaluation.score.value": float(f["score"]),
                    "gen_ai.evaluation.score.label": "up" if f["score"] > 0 else "down",
                }
            )
        else:
            attrs["edgeprompt.feedback.edit_distance"] = f["edit_distance"]
            if with_content:
                attrs.update(
                    {"edgeprompt.feedback.original.text": f["original"], "edgeprompt.feedback.edited.text": f["edited"]}
                )
        if f["comment"]:
            attrs["gen_ai.evaluation.explanation"] = f["comment"]
        events.append(
            {
                "timeUnixNano": _nanos(f["created_at"]),
                "name": "gen_ai.evaluation.result",
                "attributes": attributes(attrs, with_content),
            }
        )
    return events


def trace_spans(
    t: Mapping[str, Any], feedback: Iterable[Mapping[str, Any]] = (), with_content: bool = False
) -> list[dict[str, Any]]:
    """OTLP spans of one stored trace (`TraceLog.get` shape): the root, then one child per stage."""
    tid = t["id"]
    start = float(t["started_at"])
    attrs = dict(t["attributes"])
    attrs.setdefault("gen_ai.operation.name", t["operation"])
    if t.get("model"):
        attrs.setdefault("gen_ai.request.model", t["model"])
    if t.get("session_id"):
        attrs.setdefault("gen_ai.conversation.id", t["session_id"])
    root_id = _span_id(tid, -1)
    root = {
        "traceId": tid,
        "spanId": root_id,
        "name": f"{t['operation']} {t.get('model') or ''}".strip(),
        "kind": SPAN_KIND_CLIENT,
        "startTimeUnixNano": _nanos(start),
        "endTimeUnixNano": _nanos(start + float(t["duration_ms"]) / 1000.0),
        "attributes": attributes(attrs, with_content),
        "events": _feedback_events(feedback, with_content),
        "status": {"code": STATUS.get(t["status"], 0)},
    }
    out = [root]
    for i, s in enumerate(t["spans"]):
        s0 = start + float(s["start_ms"]) / 1000.0
        err = "error.type" in s["attributes"]
        out.append(
            {
                "traceId": tid,
                "spanId": _span_id(tid, i),
                "parentSpanId": root_id,
                "name": s["name"],
                "kind": SPAN_KIND_INTERNAL,
                "startTimeUnixNano": _nanos(s0),
                "endTimeUnixNano": _nanos(s0 + float(s["duration_ms"]) / 1000.0),
                "attributes": attributes(s["attributes"], with_content),
                "status": {"code": 2 if err else 0},
            }
        )
    return out


def document(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """An ExportTraceServiceRequest in its JSON encoding."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": attributes(
                        {
                            "service.name": "edgeprompt",
                            "service.version": __version__,
                            "telemetry.sdk.language": "python",
                        },
                        False,
                    )
                },
                "scopeSpans": [{"scope": {"name": "edgeprompt", "version": __version__}, "spans": spans}],
            }
        ]
    }


def export(db: Database, since: float, until: float, with_content: bool = False) -> dict[str, Any]:
    """Every stored trace that started in [since, until) as one OTLP/JSON document."""
    from edgeprompt.store.traces import TraceLog

    log = TraceLog(db)
    ids = [
        r[0]
        for r in db.query(
            "SELECT id FROM traces WHERE started_at >= ? AND started_at < ? ORDER BY started_at, id", (since, until)
        )
    ]
    fb: dict[str, list[Any]] = {}
    for row in db.query(
        "SELECT f.* FROM feedback f JOIN traces t ON t.id = f.trace_id "
        "WHERE t.started_at >= ? AND t.started_at < ? ORDER BY f.id",
        (since, until),
    ):
        fb.setdefault(row["trace_id"], []).append(dict(row))
    spans: list[dict[str, Any]] = []
    for tid in ids:
        t = log.get(tid)
        if t is not None:
            spans.extend(trace_spans(t, fb.get(tid, ()), with_content))
    return document(spans)


def _live_dict(trace: Trace) -> dict[str, Any]:
    return {
        "id": trace.id,
        "started_at": trace.started_at,
        "duration_ms": trace.now_ms(),
        "operation": trace.operation,
        "session_id": trace.session_id,
        "model": trace.model,
        "status": trace.status,
        "attributes": dict(trace.attributes),
        "spans": [
            {"name": s.name, "start_ms": s.start_ms, "duration_ms": s.duration_ms, "attributes": dict(s.attributes)}
            for s in trace.spans
        ],
    }


class LiveExporter:
    """Posts each finished trace to an OTLP/HTTP JSON endpoint from one background thread, so a slow or
    absent collector never delays an answer. Traces that cannot be sent are dropped and counted."""

    def __init__(self, endpoint: str, timeout_s: float = 2.0, capacity: int = 1000) -> None:
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(capacity)
        self._thread = threading.Thread(target=self._work, name="edgeprompt-otlp", daemon=True)
        self._thread.start()

    def submit(self, trace: Trace) -> None:
        body = json.dumps(document(trace_spans(_live_dict(trace))), default=str).encode()
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self.dropped += 1

    def _work(self) -> None:
        import urllib.request

        while (body := self._queue.get()) is not None:
            req = urllib.request.Request(
                self.endpoint, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    resp.read()
                self.sent += 1
            except Exception:  # a collector that is down must not break anything else
                self.dropped += 1

    def close(self, wait_s: float = 2.0) -> None:
        try:
            self._queue.put(None, timeout=wait_s)
        except queue.Full:
            return
        self._thread.join(wait_s)
