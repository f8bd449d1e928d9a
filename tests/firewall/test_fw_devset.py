"""The Done-when figures on the held-out 30 % of the dev set (skipped when ../shared/datasets is absent)."""

from __future__ import annotations

import pytest

from edgeprompt.firewall import evaluate

DEV = evaluate.default_devset()
PII = DEV.parents[1] / "pii" / "presidio_synth_sample.jsonl"


@pytest.mark.skipif(not DEV.is_file(), reason="../shared/datasets/injection/dev.jsonl is not here")
@pytest.mark.slow  # an evaluation of a shipped model on a held-out set: it changes when the model does
def test_direct_attacks_recall_fpr_and_hard_negatives(scanner, own_hard_negatives) -> None:  # type: ignore[no-untyped-def]
    _, test = evaluate.split(evaluate.read_jsonl(DEV))
    hard = own_hard_negatives
    flagged = {id(r): scanner.scan(r["text"], evaluate.context_of(r)).decision != "allow" for r in test + hard}
    rep = evaluate.report(test, lambda r: flagged[id(r)], hard)
    base = evaluate.report(test, lambda r: evaluate.keyword_baseline(r["text"]), hard)
    assert rep["direct_attack_recall"]["rate"] >= 0.90
    assert rep["benign_fpr"]["rate"] <= 0.02
    assert rep["hard_negative_flag_rate"]["rate"] <= 0.05
    assert rep["own_hard_negative_flag_rate"]["rate"] <= 0.05
    assert base["direct_attack_recall"]["rate"] < 0.2 < rep["direct_attack_recall"]["rate"]


@pytest.mark.skipif(not PII.is_file(), reason="../shared/datasets/pii is not here")
def test_pii_recall_on_the_sample() -> None:
    from edgeprompt.firewall.output import OutputValidator

    types = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS"}
    v = OutputValidator()
    hit = total = 0
    for r in evaluate.read_jsonl(PII):
        res = v.check(r["text"])
        for s in r["spans"]:
            if s["entity_type"] in types:
                total += 1
                hit += any(
                    f.type == s["entity_type"] and f.start <= s["start"] and f.end >= s["end"] for f in res.findings
                )
                assert s["value"] not in res.redacted_text
    assert hit / total >= 0.95
