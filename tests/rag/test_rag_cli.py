"""The docs commands: JSON shapes, JSON Lines search, and clean one-line errors on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rag_helpers import integrity


def test_add_list_show_search_remove(cli, embed_home: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("docs", "add", str(corpus), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["indexed"] == 3 and summary["skipped"] == 0 and summary["chunks"] >= 3
    assert {"unchanged", "removed", "skipped_files", "seconds", "bytes_written", "text_bytes"} <= set(summary)

    code, out, _ = cli("docs", "list", "--json")
    docs = json.loads(out)["documents"]
    assert len(docs) == 3 and all({"path", "chunks", "indexed_at", "flagged"} <= set(d) for d in docs)

    code, out, _ = cli("docs", "show", str(corpus / "lease.md"), "--json")
    shown = json.loads(out)
    assert shown["title"] == "Lease for the river flat"
    assert [c["context"] for c in shown["chunk_list"]] == [
        "Lease for the river flat > Rent",
        "Lease for the river flat > Deposit",
    ]

    code, out, _ = cli("docs", "search", "deposit returned", "-k", "2", "--json")
    hits = json.loads(out)["hits"]
    assert hits[0]["path"].endswith("lease.md") and hits[0]["location"] == "line 9"
    assert {"path", "score", "text", "location"} <= set(hits[0])

    code, out, _ = cli("docs", "search", "tomatoes", "--filter", "type=csv", "--json")
    assert all(h["path"].endswith(".csv") for h in json.loads(out)["hits"])

    code, out, _ = cli("docs", "remove", str(corpus / "notes"), "--json")
    assert json.loads(out)["removed"] == 2
    code, out, _ = cli("docs", "reindex", "--json")
    assert json.loads(out)["unchanged"] == 1


def test_search_reads_json_lines(cli, embed_home: Path, corpus: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cli("docs", "add", str(corpus))
    monkeypatch.setattr("sys.stdin", io.StringIO('{"query": "rent"}\nnot json\n{"query": "basil", "k": 1}\n'))
    code, out, _ = cli("docs", "search", "-")
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 2  # one bad line
    assert lines[0]["query"] == "rent" and lines[0]["hits"][0]["path"].endswith("lease.md")
    assert "error" in lines[1] and "line 2" in lines[1]["error"]
    assert lines[2]["query"] == "basil" and len(lines[2]["hits"]) == 1


def test_bad_input_gives_one_line_errors_and_keeps_the_index(cli, embed_home: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    cli("docs", "add", str(corpus))
    for argv, message in [
        (("docs", "add", str(corpus / "missing")), "no such file or folder"),
        (("docs", "show", str(corpus / "missing.md")), "not in your documents"),
        (("docs", "remove", str(corpus / "missing.md")), "not in your documents"),
        (("docs", "search", "x", "--filter", "type=exe"), "unknown type"),
        (("docs", "search", "x", "-k", "0"), "-k must be"),
    ]:
        code, _, err = cli(*argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    code, out, _ = cli("docs", "list", "--json")
    assert len(json.loads(out)["documents"]) == 3
    assert integrity(embed_home / "edgeprompt.db") == "ok"


def test_text_output_for_people(cli, embed_home: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("docs", "add", str(corpus))
    assert code == 0 and out.startswith("indexed 3, unchanged 0")
    code, out, _ = cli("docs", "list")
    assert "3 documents" in out
    code, out, _ = cli("docs", "search", "deposit")
    assert out.startswith("1. ") and "lease.md line 9" in out
