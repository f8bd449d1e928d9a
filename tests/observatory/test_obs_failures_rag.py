"""Failure categories from real retrieval: a question answered from documents without citing them, and a
question the documents cannot answer (the assistant abstains)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from obs_helpers import ask

from edgeprompt.observatory.report import build_report

DOC = """# Heating manual

The boiler pressure should stay between 1.0 and 1.5 bar when the heating is cold.
To raise the pressure, open the filling loop valve slowly until the gauge reads 1.2 bar, then close it.
Bleed the radiators once a year, starting with the one furthest from the boiler.
"""


def test_missing_citation_and_abstention_from_retrieval(obs_rt: Any, tmp_path: Path) -> None:
    rt = obs_rt
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "heating.md").write_text(DOC, encoding="utf-8")
    rt.documents().indexer.add([str(docs)])
    grounded = ask(rt, "What pressure should the boiler have when the heating is cold?")
    off_topic = ask(rt, "When did I last renew my passport?")  # about the user: abstains
    assert grounded.citations and not grounded.abstained  # sources went to the model; echo cites none
    assert off_topic.abstained
    rep = build_report(rt.db, rt.settings.section("observatory"), 0.0)
    f = rep["failures"]
    assert f["missing_citation"]["examples"] == [grounded.trace_id]
    assert f["abstention"]["examples"] == [off_topic.trace_id]
