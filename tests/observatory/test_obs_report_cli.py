"""`observe report` from the command line: JSON keys, a self-contained HTML page, one-line errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

REQUIRED = ("requests", "feedback", "topics", "failures", "latency_ms", "drift", "confidence")


def _ask(cli: Any, q: str) -> str:
    code, out, err = cli("ask", "-m", "echo", "--json", q)
    assert code == 0, err
    return json.loads(out)["trace_id"]


def test_report_json_text_and_html(cli: Any, tmp_path: Path) -> None:
    tid = _ask(cli, "What telescope do I need for Saturn's rings from a city?")
    _ask(cli, "Why does my code fail when I parse JSON with pandas?")
    assert cli("feedback", tid, "up")[0] == 0
    code, out, err = cli("observe", "report", "--since", "1d", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert all(k in rep for k in REQUIRED)
    assert rep["requests"] == 2 and rep["feedback"]["up"] == 1 and rep["feedback"]["down"] == 0

    page = tmp_path / "report.html"
    code, out, err = cli("observe", "report", "--since", "7d", "--html", str(page))
    assert code == 0, err
    assert "2 requests since" in out and f"wrote {page}" in err
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<svg" in html and "How your assistant is doing" in html
    # self-contained: no scripts, no external references of any kind
    assert "<script" not in html and not re.search(r"(src|href)\s*=", html)
    assert not re.search(r"https?://", html.replace("http://www.w3.org/2000/svg", ""))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("observe", "report", "--since", "yesterday"), "bad --since 'yesterday'"),
        (("observe", "report", "--since=-3d"), "bad --since '-3d'"),
        (("observe", "report", "--html", "/nonexistent-dir/r.html"), "the folder /nonexistent-dir does not exist"),
        (("observe", "export", "--otlp-json", "/nonexistent-dir/t.json"), "does not exist"),
        (("observe", "export", "--otlp-json", "t.json", "--since", "soon"), "bad --since 'soon'"),
        (("observe", "trace", "deadbeef0000"), "Not found: trace 'deadbeef0000'"),
    ],
)
def test_bad_arguments_are_one_line_errors(cli: Any, argv: tuple[str, ...], message: str) -> None:
    code, _, err = cli(*argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_html_path_that_is_a_folder_or_not_writable(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli("observe", "report", "--html", str(tmp_path))
    assert code == 2 and "is a folder" in err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: a read-only folder is still writable")
        code, _, err = cli("observe", "report", "--html", str(locked / "r.html"))
        assert code == 2 and "permission denied" in err and not list(locked.iterdir())
    finally:
        locked.chmod(0o700)
