"""`config set SECTION.KEY VALUE`: one setting changed in config.toml, checked against `config.DEFAULTS`.

The file is edited line by line so the user's comments and the documented defaults stay where they are;
the result is parsed again before it replaces the old file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprompt.config import DEFAULTS, _check_type, _toml_value
from edgeprompt.errors import ConfigError, SettingError
from edgeprompt.paths import write_atomic

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_HEADER = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    old: Any
    value: Any


def parse(dotted: str, text: str) -> tuple[str, str, Any]:
    """(section, key, typed value) for `section.key` and the text given on the command line."""
    section, _, key = dotted.partition(".")
    if section not in DEFAULTS:
        raise SettingError(f"unknown setting '{dotted}': sections are {', '.join(DEFAULTS)} (see `config show`)")
    if key not in DEFAULTS[section]:
        raise SettingError(f"unknown setting '{dotted}': [{section}] has {', '.join(DEFAULTS[section])}")
    default = DEFAULTS[section][key][0]
    value: Any = text
    if isinstance(default, bool):
        low = text.strip().lower()
        if low not in _TRUE | _FALSE:
            raise SettingError(f"{dotted} must be true or false, got '{text}'")
        value = low in _TRUE
    elif isinstance(default, int | float):
        try:
            value = int(text) if isinstance(default, int) else float(text)
        except ValueError:
            raise SettingError(f"{dotted} must be {type(default).__name__}, got '{text}'") from None
    elif isinstance(default, list):
        try:  # a TOML array, or plain comma-separated words
            value = (
                tomllib.loads(f"v = {text}")["v"]
                if text.strip().startswith("[")
                else [w.strip() for w in text.split(",") if w.strip()]
            )
        except tomllib.TOMLDecodeError as e:
            raise SettingError(f"{dotted} must be a list: {e}") from None
    return section, key, _check_type(section, key, value, default)


def _rewrite(text: str, section: str, key: str, value: Any) -> str:
    line_out = f"{key} = {_toml_value(value)}"
    lines = text.splitlines()
    current, header_at = None, None
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i, line in enumerate(lines):
        if m := _HEADER.match(line):
            if current == section:  # the section ended without the key: add it at its end
                lines.insert(i, line_out)
                return "\n".join(lines) + "\n"
            current = m.group(1).strip()
            header_at = i if current == section else header_at
        elif current == section and key_re.match(line):
            lines[i] = line_out
            return "\n".join(lines) + "\n"
    if header_at is not None:
        lines.append(line_out)
    else:
        lines += ["", f"[{section}]", line_out]
    return "\n".join(lines) + "\n"


def set_value(config_path: Path, dotted: str, text: str) -> Change:
    """Validate, then rewrite config.toml (a file that would no longer parse is never written)."""
    section, key, value = parse(dotted, text)
    before = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    old = (
        tomllib.loads(before).get(section, {}).get(key, DEFAULTS[section][key][0])
        if before
        else DEFAULTS[section][key][0]
    )
    after = _rewrite(before, section, key, value)
    try:
        tomllib.loads(after)
    except tomllib.TOMLDecodeError as e:  # the user's file was broken already: say so, change nothing
        raise ConfigError(f"{config_path}: {e}") from e
    config_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(config_path, after.encode("utf-8"))
    return Change(section, key, old, value)
