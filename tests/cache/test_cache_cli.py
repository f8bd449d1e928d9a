"""`edgeprompt cache …` and `ask --json`: the contract shapes, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

LOOKUP_KEYS = {"hit", "level", "similarity", "answer", "guards"}


def test_ask_json_says_cached_and_level(cli: Any) -> None:
    code, out, _ = cli("ask", "-m", "echo", "How do I renew my passport?", "--json")
    assert code == 0 and json.loads(out)["cached"] is False
    code, out, _ = cli("ask", "-m", "echo", "How do I renew my passport?", "--json")
    r = json.loads(out)
    assert (r["cached"], r["cache"]) == (True, "exact")


def test_seed_then_lookup_explains_hits_and_vetoes(cli: Any, tmp_path: Path) -> None:
    faq = tmp_path / "faq.jsonl"
    faq.write_text(
        '{"query": "What is the wifi password?", "answer": "It is on the router."}\n'
        '{"query": "How many vacation days do I get?", "answer": "25 days a year."}\n'
    )
    code, out, _ = cli("cache", "seed", str(faq), "-m", "echo", "--json")
    assert code == 0 and json.loads(out) == {"stored": 2, "failed": 0}
    code, out, _ = cli("cache", "lookup", "What's the wifi password?", "-m", "echo", "--json")
    r = json.loads(out)
    assert set(r) >= LOOKUP_KEYS
    assert (r["hit"], r["level"], r["answer"]) == (True, "semantic", "It is on the router.")
    code, out, _ = cli("cache", "lookup", "What is the wifi password?", "-m", "echo", "--json")
    assert json.loads(out)["level"] == "exact"
    code, out, _ = cli("cache", "lookup", "What is the guest wifi password?", "-m", "echo", "--json")
    r = json.loads(out)
    assert (r["hit"], r["level"], r["answer"]) == (False, "none", None)
    assert r["guards"]["threshold"]["pass"] is False or not all(g["pass"] for g in r["guards"].values())


def test_lookup_reads_json_lines_from_stdin(cli: Any, monkeypatch: Any) -> None:
    import io

    cli("ask", "-m", "echo", "Is 17 a prime number?", "--json")
    monkeypatch.setattr(
        "sys.stdin", io.StringIO('{"query": "Is 17 a prime number?"}\n{"query": "Is 19 a prime number?"}\nnot json\n')
    )
    code, out, _ = cli("cache", "lookup", "-", "-m", "echo")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 2  # one bad line
    assert [x.get("hit") for x in lines[:2]] == [True, False]
    assert set(lines[0]) >= LOOKUP_KEYS and "error" in lines[2]


def test_stats_json_has_every_level(cli: Any) -> None:
    cli("ask", "-m", "echo", "hello there", "--json")
    cli("ask", "-m", "echo", "hello there", "--json")
    code, out, _ = cli("cache", "stats", "--json")
    s = json.loads(out)
    assert code == 0 and {"template", "exact", "semantic", "context", "prefix"} <= set(s)
    for level in ("exact", "semantic", "context", "prefix"):
        assert {"hits", "misses", "hit_rate", "bytes", "tokens_saved", "seconds_saved"} <= set(s[level])
    assert s["exact"]["hits"] == 1 and s["exact"]["hit_rate"] == 0.5


def test_clear_by_level(cli: Any) -> None:
    cli("ask", "-m", "echo", "hello there", "--json")
    code, out, _ = cli("cache", "clear", "--level", "exact", "--json")
    assert code == 0 and json.loads(out)["cleared"] == {"exact": 1}
    code, out, _ = cli("ask", "-m", "echo", "hello there", "--json")
    assert json.loads(out)["cached"] is False


def test_bad_input_is_one_clear_line_and_nothing_is_lost(cli: Any, tmp_path: Path, data_home: Path) -> None:
    code, _, err = cli("cache", "seed", str(tmp_path / "missing.jsonl"))
    assert code == 2 and err.strip().startswith("edgeprompt: no such file")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "Q1", "answer": "A1"}\n{"query": "Q2"}\n{oops\n')
    code, out, err = cli("cache", "seed", str(bad), "-m", "echo", "--json")
    assert code == 2 and json.loads(out) == {"stored": 1, "failed": 2}
    assert "line 2" in err and "line 3" in err
    with pytest.raises(SystemExit) as exit_:  # argparse rejects an unknown level before anything runs
        cli("cache", "clear", "--level", "nope")
    assert exit_.value.code == 2
    from edgeprompt.store.migrate import open_db

    db = open_db(data_home / "edgeprompt.db")
    assert db.query_one("PRAGMA integrity_check")[0] == "ok"
    assert db.query_one("SELECT count(*) FROM cache_entries")[0] == 1
    db.close()
