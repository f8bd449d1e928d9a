"""OTLP/JSON export: shape, no content by default, feedback as gen_ai.evaluation.result, live export."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

from obs_helpers import ask

from edgeprompt.app import Runtime
from edgeprompt.store.feedback import FeedbackStore

HEX32, HEX16 = re.compile(r"^[0-9a-f]{32}$"), re.compile(r"^[0-9a-f]{16}$")


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def spans_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    (rs,) = doc["resourceSpans"]
    assert attrs(rs["resource"])["service.name"] == "edgeprompt"
    (ss,) = rs["scopeSpans"]
    assert ss["scope"]["name"] == "edgeprompt"
    return ss["spans"]


def _config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_export_is_otlp_json_without_content_unless_asked(data_home: Path, cli: Any, tmp_path: Path) -> None:
    _config(data_home, "[trace]\ncapture_content = true\n")
    with Runtime.open(data_home) as rt:
        first = ask(rt, "Which spices go well with lentil soup?")
        ask(rt, "How do I read a CSV file in Python?")
        fb = FeedbackStore(rt.db)
        fb.thumbs(first.trace_id, False, "my secret comment")
        fb.edit(first.trace_id, first.answer, "Cumin and coriander.")
    out = tmp_path / "traces.json"
    code, stdout, err = cli("observe", "export", "--otlp-json", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout) == {
        "path": str(out),
        "traces": 2,
        "spans": json.loads(stdout)["spans"],
        "with_content": False,
    }
    text = out.read_text()
    assert "lentil" not in text and "secret" not in text and "Cumin" not in text
    spans = spans_of(json.loads(text))
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == 2
    for s in spans:
        assert HEX32.match(s["traceId"]) and HEX16.match(s["spanId"])
        assert int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) > 10**18
    root = next(r for r in roots if r["traceId"] == first.trace_id)
    ra = attrs(root)
    assert root["name"] == "chat echo" and root["kind"] == 3 and root["status"] == {"code": 1}
    assert ra["gen_ai.operation.name"] == "chat" and ra["gen_ai.request.model"] == "echo"
    assert ra["gen_ai.usage.input_tokens"] == str(first.usage["prompt_tokens"])  # int64 as a decimal string
    children = [s for s in spans if s.get("parentSpanId") == root["spanId"]]
    assert {"generate", "observe.signals"} <= {c["name"] for c in children}
    assert all(c["traceId"] == root["traceId"] for c in children)
    (thumb, edit) = root["events"]
    assert thumb["name"] == edit["name"] == "gen_ai.evaluation.result"
    assert attrs(thumb) == {
        "gen_ai.evaluation.name": "user_feedback",
        "gen_ai.evaluation.score.value": -1.0,
        "gen_ai.evaluation.score.label": "down",
    }
    assert attrs(edit) == {
        "gen_ai.evaluation.name": "user_edit",
        "edgeprompt.feedback.edit_distance": str(edit_distance(first.answer)),
    }

    code, _, err = cli("observe", "export", "--otlp-json", str(out), "--with-content")
    assert code == 0, err
    text = out.read_text()
    assert "lentil" in text and "secret comment" in text and "Cumin and coriander." in text


def edit_distance(answer: str) -> int:
    from edgeprompt.store.feedback import edit_distance as lev

    return lev(answer, "Cumin and coriander.")


class _Collector(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        n = int(self.headers["Content-Length"])
        _Collector.bodies.append(self.rfile.read(n))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_live_export_posts_each_trace_to_the_configured_endpoint(data_home: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _config(data_home, f'[observatory]\notlp_endpoint = "http://127.0.0.1:{server.server_port}/v1/traces"\n')
        with Runtime.open(data_home) as rt:
            res = ask(rt, "What should I pack for Iceland in winter?")
        # closing the runtime flushes the exporter
        (body,) = _Collector.bodies
        spans = spans_of(json.loads(body))
        assert {s["traceId"] for s in spans} == {res.trace_id}
        assert "Iceland" not in body.decode()
    finally:
        server.shutdown()
