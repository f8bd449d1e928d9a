from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

ASK_KEYS = {
    "answer",
    "model",
    "session_id",
    "trace_id",
    "usage",
    "timings",
    "cached",
    "citations",
    "verdicts",
    "abstained",
}


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        cli("--version")
    assert e.value.code == 0


def test_ask_json_has_the_documented_object(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("ask", "hello world", "-m", "echo", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj.keys() >= ASK_KEYS
    assert obj["answer"] == "hello world" and obj["model"] == "echo"
    assert set(obj["usage"]) == {"prompt_tokens", "completion_tokens"}
    assert set(obj["timings"]) == {"ttft_ms", "total_ms", "tokens_per_s"}
    assert obj["cached"] is False and obj["abstained"] is False


def test_ask_streams_text_and_footer(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("ask", "plain text please", "-m", "echo")
    assert code == 0 and out.strip() == "plain text please"
    assert "echo" in err and "session" in err  # a plain ask is kept in a session of its own


def test_ask_batch_from_stdin_one_object_per_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    lines = ['{"question": "first one"}', "not json", '{"nope": 1}', '{"question": "second"}']
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = cli("ask", "-", "-m", "echo")
    rows = [json.loads(x) for x in out.splitlines()]
    assert len(rows) == 4
    assert rows[0]["answer"] == "first one" and rows[3]["answer"] == "second"
    assert "error" in rows[1] and "error" in rows[2]
    assert code == 2  # some lines failed


def test_one_off_asks_stay_out_of_the_chat_list_and_c_continues_the_latest(cli) -> None:  # type: ignore[no-untyped-def]
    asked = [json.loads(cli("ask", "hello", "-m", "echo", "--json")[1])["session_id"] for _ in range(3)]
    assert len(set(asked)) == 3  # each is kept (feedback and edits read it) ...
    code, out, _ = cli("sessions", "list", "--json")
    assert code == 0 and json.loads(out) == []  # ... but is no chat
    code, out, _ = cli("sessions", "list")
    assert code == 0 and "--all" in out
    code, out, _ = cli("sessions", "list", "--all", "--json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == asked[::-1] and {r["kind"] for r in rows} == {"ask"}
    code, out, _ = cli("sessions", "list", "--all")
    assert "KIND" in out.splitlines()[0] and out.count(" ask ") == 3
    continued = json.loads(cli("ask", "and then?", "-m", "echo", "-c", "--json")[1])["session_id"]
    assert continued == asked[-1]  # -c continues the latest one-off, which is now a conversation
    rows = json.loads(cli("sessions", "list", "--json")[1])
    assert [(r["id"], r["kind"], r["turns"]) for r in rows] == [(continued, "chat", 4)]


def test_sessions_commands(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = cli("ask", "remember the milk", "-m", "echo", "-c", "--json")
    sid = json.loads(out)["session_id"]
    cli("ask", "and the bread", "-m", "echo", "--session", sid[:6], "--json")
    code, out, _ = cli("sessions", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and rows[0]["id"] == sid and rows[0]["turns"] == 4
    code, out, _ = cli("sessions", "show", sid, "--json")
    assert [m["content"] for m in json.loads(out)["messages"]][:2] == ["remember the milk", "remember the milk"]
    assert cli("sessions", "rename", sid, "Groceries")[0] == 0
    target = tmp_path / "s.md"
    code, out, _ = cli("sessions", "export", sid, "--format", "md", "-o", str(target))
    assert code == 0 and target.read_text().startswith("# Groceries")
    code, out, _ = cli("sessions", "export", sid, "--format", "json")
    assert json.loads(out)["title"] == "Groceries"
    assert cli("sessions", "delete", sid)[0] == 0
    code, _, err = cli("sessions", "show", sid)
    assert code == 2 and err.count("\n") == 1 and "not found" in err.lower()


def test_config_show_and_bad_config(cli, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("config", "show", "--json")
    settings = json.loads(out)["settings"]
    assert code == 0 and settings["generation"]["max_tokens"] == 256
    (data_home / "config.toml").write_text("[generation]\nmax_tokenz = 3\n")
    code, _, err = cli("ask", "x", "-m", "echo")
    assert code == 2 and "unknown setting" in err and err.count("\n") == 1
    (data_home / "config.toml").write_text("[generation\n")
    code, _, err = cli("config", "show")
    assert code == 2 and err.count("\n") == 1


def test_doctor_reports_versions(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["sqlite-vec"]["version"].startswith("v")
    assert checks["fts5"]["available"] is True
    assert "CPUExecutionProvider" in checks["onnxruntime"]["providers"]
    assert checks["disk"]["free_bytes"] > 0
    assert code == 0


def test_unknown_model_and_session_exit_2_with_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("ask", "hi", "-m", "no-such-model")
    assert code == 2 and out == "" and err.count("\n") == 1 and "no-such-model" in err
    code, _, err = cli("ask", "hi", "-m", "echo", "--session", "zzzz")
    assert code == 2 and err.count("\n") == 1


def test_newer_database_refused_through_cli_and_kept(cli, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    _, _out, _ = cli("ask", "keep this", "-m", "echo", "-c", "--json")
    from edgeprompt.store.db import connect

    db = connect(data_home / "edgeprompt.db")
    with db.transaction() as c:
        c.execute("INSERT INTO schema_migrations(name, applied_at) VALUES ('9999_future', 0)")
    db.close()
    code, _, err = cli("sessions", "list")
    assert code == 2 and "newer edgeprompt" in err and err.count("\n") == 1
    db = connect(data_home / "edgeprompt.db")
    assert db.query_one("SELECT count(*) FROM turns")[0] == 2
    assert db.query_one("PRAGMA integrity_check")[0] == "ok"
    db.close()


def test_locked_database_exit_2(cli, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import edgeprompt.store.db as dbmod
    from edgeprompt.store.db import connect

    cli("ask", "first", "-m", "echo", "-c")
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 50)
    holder = connect(data_home / "edgeprompt.db")
    holder.conn.execute("BEGIN EXCLUSIVE")
    try:
        code, _, err = cli("ask", "second", "-m", "echo", "-c")
    finally:
        holder.conn.execute("ROLLBACK")
        holder.close()
    assert code == 2 and "locked" in err and err.count("\n") == 1
    code, out, _ = cli("sessions", "list", "--json")
    assert len(json.loads(out)) == 1


def test_disk_full_is_one_line_and_keeps_completed_turns(cli, data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import edgeprompt.store.db as dbmod
    import edgeprompt.store.migrate as migrate  # open_db connects through this module's name

    cli("ask", "before the disk filled", "-m", "echo", "-c")
    real_connect = dbmod.connect

    def tiny_disk(path: Path) -> dbmod.Database:
        db = real_connect(path)
        pages = db.query_one("PRAGMA page_count")[0]
        db.conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite's own SQLITE_FULL, as on a full disk
        return db

    monkeypatch.setattr(migrate, "connect", tiny_disk)
    code, _, err = cli("ask", "a long question " * 300, "-m", "echo", "-c")
    assert code == 2 and "disk is full" in err.lower() and err.count("\n") == 1
    monkeypatch.setattr(migrate, "connect", real_connect)
    code, out, _ = cli("sessions", "list", "--json")
    assert [s["title"] for s in json.loads(out)][-1].startswith("before the disk")


def test_ctrl_c_mid_answer_exits_130_and_keeps_earlier_turns(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.backends import echo

    cli("ask", "completed turn", "-m", "echo", "-c")
    real_stream = echo.EchoBackend.stream

    def interrupted(self, request):  # type: ignore[no-untyped-def]
        for i, chunk in enumerate(real_stream(self, request)):
            if i == 2:
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(echo.EchoBackend, "stream", interrupted)
    code, _, err = cli("ask", "this will be interrupted midway", "-m", "echo", "-c")
    assert code == 130 and "interrupted" in err
    monkeypatch.setattr(echo.EchoBackend, "stream", real_stream)
    code, out, _ = cli("sessions", "list", "--json")
    titles = [s["title"] for s in json.loads(out)]
    assert "completed turn" in titles


def test_huge_and_broken_unicode_questions(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("ask", "x" * 200_000, "-m", "echo")
    assert code == 2 and "limit" in err
    code, out, _ = cli("ask", "caf\udce9 ok", "-m", "echo", "--json")
    assert code == 0 and json.loads(out)["answer"]
