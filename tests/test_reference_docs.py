"""Every command, option and setting is documented, and docs/reference/ is what scripts/gen_docs writes now."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeprompt.cli import build_parser
from edgeprompt.config import DEFAULTS
from edgeprompt.reference import reference_files, undocumented, walk

ROOT = Path(__file__).resolve().parents[1]


def test_every_command_option_and_setting_has_a_description() -> None:
    missing = undocumented(build_parser(), DEFAULTS)
    assert not missing, "add help= (commands) or a description (config.DEFAULTS) for: " + ", ".join(missing)


def test_the_walk_reaches_nested_commands_and_their_options() -> None:
    commands = {c.path: c for c in walk(build_parser())}
    export = commands["edgeprompt sessions export"]
    assert {o.names for o in export.options} >= {"id", "--format", "-o, --out"}
    assert commands["edgeprompt sessions"].is_group and not export.is_group


@pytest.mark.parametrize("rel", sorted(reference_files(build_parser(), DEFAULTS)))
def test_committed_reference_matches_the_code(rel: str) -> None:
    expected = reference_files(build_parser(), DEFAULTS)[rel]
    path = ROOT / rel
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    assert actual == expected, f"{rel} is out of date: run scripts/gen_docs"
