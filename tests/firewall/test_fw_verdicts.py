"""The typed verdicts the pipeline carries to AskResult keep the JSON form clients read."""

from __future__ import annotations

from edgeprompt.firewall.output import OutputResult
from edgeprompt.firewall.pii import Finding
from edgeprompt.firewall.scanner import Verdict
from edgeprompt.firewall.verdicts import StageVerdict


def test_a_scanner_verdict_keeps_its_fields_and_names_its_audit_entry() -> None:
    v = Verdict("flag", 0.61234, ["override"], ["r1"], 1.23456)
    d = StageVerdict("input", v, 7).as_dict()
    assert d == {"stage": "input", **v.as_dict(), "audit_id": 7}
    assert StageVerdict("input", v, 7).trace_attributes()["edgeprompt.firewall.input.score"] == 0.6123


def test_an_unaudited_passage_has_no_audit_entry_but_an_unaudited_input_says_none() -> None:
    v = Verdict("allow", 0.1, [], [], 0.5)
    assert "audit_id" not in StageVerdict("document", v, None, 2).as_dict()
    assert StageVerdict("document", v, None, 2).as_dict()["source"] == 2
    assert StageVerdict("input", v, None).as_dict()["audit_id"] is None


def test_an_output_result_reads_as_a_decision_with_findings() -> None:
    r = OutputResult("flag", [Finding("EMAIL_ADDRESS", 5, 20)], "mail [EMAIL_ADDRESS]", 0.4)
    sv = StageVerdict("output", r, 3)
    assert (sv.decision, sv.score, sv.categories, sv.allowed) == ("flag", 1.0, ["EMAIL_ADDRESS"], False)
    assert sv.as_dict()["findings"] == [{"type": "EMAIL_ADDRESS", "start": 5, "end": 20}]
    assert sv.as_dict()["audit_id"] == 3 and "redacted_text" not in sv.as_dict()
