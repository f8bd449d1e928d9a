"""Routing policy: battery and charge, context length, installed folders, the default fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from routing_helpers import card, write_config

from edgeprompt.errors import UsageError
from edgeprompt.routing.policy import (
    PowerProbe,
    PowerState,
    _read_sysfs,
    choose,
    is_installed,
    quant_bits,
    read_power,
)


def _choose(tag: str, cards: list[Any], saving: bool, need: int = 100, default: str = "demo") -> Any:
    return choose(tag, cards, default_id=default, need_tokens=need, saving=saving, installed=lambda c: True)


CODERS = [
    card("coder-7b", ("code",), size_mb=4200, quantization="int8"),
    card("coder-1b", ("code",), size_mb=900, quantization="q4_0"),
    card("coder-1b-fp16", ("code",), size_mb=900, quantization="fp16"),
]


def test_on_battery_the_smallest_most_quantized_model_wins() -> None:
    c = _choose("code", CODERS, saving=True)
    assert c.card.id == "coder-1b" and "saving power" in c.reason


def test_on_mains_the_default_then_the_largest_wins() -> None:
    assert _choose("code", CODERS, saving=False).card.id == "coder-7b"
    assert _choose("code", CODERS, saving=False, default="coder-1b").card.id == "coder-1b"


def test_context_length_must_hold_the_request() -> None:
    cards = [card("short", ("general",), context_length=512), card("long", ("general",), context_length=32768)]
    assert _choose("general", cards, saving=True, need=4000).card.id == "long"
    none = _choose("general", cards, saving=True, need=100_000)
    assert none.card is None and "100000 tokens" in none.reason


def test_models_that_are_not_installed_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    present = card("present", ("code",), backend="mlx", paths={"mlx": str(tmp_path / "here")})
    missing = card("missing", ("code",), backend="mlx", size_mb=1, paths={"mlx": str(tmp_path / "gone")})
    assert is_installed(present) and not is_installed(missing)
    assert not is_installed(card("nofolder", ("code",), backend="auto"))
    got = choose("code", [missing, present], default_id="x", need_tokens=10, saving=True, installed=is_installed)
    assert got.card.id == "present"
    none = choose("code", [missing], default_id="x", need_tokens=10, saving=True, installed=is_installed)
    assert none.card is None and "installed" in none.reason


def test_the_test_fake_is_never_routed_to_unless_it_is_the_default() -> None:
    echo = card("echo", ("general",))
    assert _choose("general", [echo], saving=False).card is None
    assert _choose("general", [echo], saving=False, default="echo").card.id == "echo"


def test_quantization_bits() -> None:
    assert [quant_bits(q) for q in ("int4", "q4_0", "4bit", "int8", "fp16", "bf16", "fp32", "")] == [
        4,
        4,
        4,
        8,
        16,
        16,
        32,
        16,
    ]


def _supply(root: Path, name: str, **files: str) -> None:
    (root / name).mkdir(parents=True)
    for k, v in files.items():
        (root / name / k).write_text(v + "\n")


def test_linux_sysfs_battery_states(tmp_path: Path) -> None:
    _supply(tmp_path, "BAT0", type="Battery", status="Discharging", capacity="55")
    _supply(tmp_path, "AC", type="Mains", online="0")
    assert _read_sysfs(tmp_path) == PowerState(True, 55.0, "sysfs")
    (tmp_path / "AC" / "online").write_text("1\n")
    assert _read_sysfs(tmp_path) == PowerState(False, 55.0, "sysfs")
    assert _read_sysfs(tmp_path / "none") is None
    assert PowerState(False, 20.0, "sysfs").saving(30) and not PowerState(False, 80.0, "sysfs").saving(30)


def test_read_power_without_a_battery_is_mains(tmp_path: Path) -> None:
    state = read_power(tmp_path)  # this CI machine: psutil reports no battery, sysfs root is empty
    assert isinstance(state, PowerState)
    if state.source == "unknown":
        assert not state.on_battery


def test_power_setting_overrides_and_caches() -> None:
    calls = []

    def reader() -> PowerState:
        calls.append(1)
        return PowerState(True, 10.0, "sysfs")

    probe = PowerProbe("auto", reader)
    assert probe.state().on_battery and probe.state().on_battery and len(calls) == 1
    assert not PowerProbe("ac", reader).state().on_battery
    assert PowerProbe("battery", reader).state().on_battery
    with pytest.raises(UsageError, match="auto, ac or battery"):
        PowerProbe("solar")


def test_router_applies_power_and_falls_back_to_default(linked_home: Path) -> None:
    from edgeprompt.app import Runtime

    write_config(linked_home, '[routing]\npower = "battery"\n')
    with Runtime.open(linked_home) as rt:
        for c in CODERS:
            rt.catalog.add(c)
        d = rt.router().decide("fix the segfault in my C program")
        assert (d.route, d.model, d.power) == ("code", "coder-1b", "battery")
        d = rt.router().decide("what is 17% of 340?")
        assert d.route == "math" and d.model == rt.default_model_id() and "default model" in d.reason
    write_config(linked_home, '[routing]\npower = "ac"\n')
    with Runtime.open(linked_home) as rt:
        assert rt.router().decide("fix the segfault in my C program").model == "coder-7b"


def test_a_toy_models_question_that_the_documents_answer_is_quoted_instead(linked_home: Path) -> None:
    """With only the demo toy to generate, a question the user's documents answer goes to the documents
    model (quotes with citations); one they do not answer, or with -m, stays with the toy."""
    from routing_helpers import card

    from edgeprompt.app import Runtime
    from edgeprompt.pipeline import AskRequest, Done, run

    write_config(linked_home, '[model]\ndefault = "toy"\n')
    notes = linked_home.parent / "notes"
    notes.mkdir()
    (notes / "lease.md").write_text(
        "# Oak Street lease\n\n## Deposit\n\nThe tenant paid a security deposit of "
        "$2,775. It is returned within 21 days of moving out.\n",
        encoding="utf-8",
    )

    def ask(request: AskRequest, rt: Runtime) -> Any:
        return next(ev.result for ev in run(request, rt) if isinstance(ev, Done))

    with Runtime.open(linked_home) as rt:
        rt.catalog.add(card("toy", ("general", "demo")))
        rt.documents().indexer.add([notes])
        question = "What is the deposit for the Oak Street flat?"
        decision = rt.router().for_request(question)
        moved = rt.router().answered_by_documents(decision, rt.card("toy"))
        assert moved is not None and (moved.route, moved.model) == ("documents", "extractive")
        assert "evidence:documents" in moved.rules
        answered = ask(AskRequest(question, save=False), rt)
        assert answered.model == "extractive" and "2,775" in answered.answer and answered.citations
        assert ask(AskRequest(question, model="toy", save=False), rt).model == "toy"  # -m is the user's choice
        assert ask(AskRequest("hello there", save=False), rt).model == "toy"  # nothing in the documents
        explicit = rt.router().for_request("@general " + question)
        assert rt.router().answered_by_documents(explicit, rt.card("toy")) is None
        assert rt.router().answered_by_documents(moved, rt.card("extractive")) is None  # not a toy
