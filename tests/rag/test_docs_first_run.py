"""Documents in the first five minutes: progress by bytes, a secret the chat hides is hidden by `docs search`
too, headers on `docs list`, and an exported chat keeps its sources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

# each test embeds a 300-section manual; tests/rag/test_rag_cli.py covers the docs commands in the fast lane
pytestmark = pytest.mark.slow

SECRET = "BlueFalcon-2291"
NOTE = f"# Home network\n\nThe guest Wi-Fi is called Garden and the guest Wi-Fi password is {SECRET}.\n"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "wifi.md").write_text(NOTE, encoding="utf-8")
    big = "\n\n".join(f"## Part {i}\n\nThe boiler manual, paragraph {i}, on pressure and valves." for i in range(300))
    (folder / "manual.md").write_text(big, encoding="utf-8")
    return folder


def test_progress_counts_bytes_and_names_the_file_being_read(rt: Any, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    seen: list[Any] = []
    rt.documents().indexer.add([str(folder)], progress=seen.append)
    total = sum(f.stat().st_size for f in folder.iterdir())
    assert all(p.bytes_total == total for p in seen)
    done = [p.bytes_done for p in seen]
    assert done == sorted(done) and done[-1] == total
    reading = [p for p in seen if p.action == "reading"]
    assert len(reading) == 2 and {Path(p.path).name for p in reading} == {"wifi.md", "manual.md"}


def test_docs_search_redacts_what_the_chat_redacts(cli, embed_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = _folder(tmp_path)
    assert cli("docs", "add", str(folder))[0] == 0
    code, out, _ = cli("docs", "search", "guest Wi-Fi password")
    assert code == 0 and "wifi.md" in out and SECRET not in out and "[SECRET]" in out
    hits = json.loads(cli("docs", "search", "guest Wi-Fi password", "--json")[1])["hits"]
    wifi = next(h for h in hits if h["path"].endswith("wifi.md"))
    assert SECRET not in wifi["text"] and wifi["redacted"] == ["SECRET"]
    answer = json.loads(cli("ask", "What is the guest Wi-Fi password?", "-m", "extractive", "--json")[1])["answer"]
    assert SECRET not in answer  # the chat hides it the same way
    shown = cli("docs", "show", str(folder / "wifi.md"))[1]
    assert SECRET not in shown


def test_docs_list_has_a_header(cli, embed_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = _folder(tmp_path)
    cli("docs", "add", str(folder))
    lines = cli("docs", "list")[1].splitlines()
    assert lines[0].split() == ["CHUNKS", "TYPE", "PATH"] and any("wifi.md" in x for x in lines[1:])


def test_an_exported_chat_keeps_its_sources(cli, embed_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = _folder(tmp_path)
    cli("docs", "add", str(folder))
    r = json.loads(cli("ask", "What is the guest Wi-Fi called?", "-m", "extractive", "-c", "--json")[1])
    assert r["citations"]
    md = cli("sessions", "export", r["session_id"])[1]
    assert "Sources:" in md and str(folder / "wifi.md") in md
    turns = json.loads(cli("sessions", "export", r["session_id"], "--format", "json")[1])["messages"]
    assert any(s["path"].endswith("wifi.md") for s in turns[-1]["meta"]["sources"])
