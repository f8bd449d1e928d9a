"""Prompt files in YAML, so prompts can live in git; and the default prompts shipped in the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeprompt.errors import UsageError
from edgeprompt.prompts.spec import PromptSpec, parse_spec

MAX_FILE_BYTES = 1 << 20


def parse_yaml(text: str, where: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UsageError(f"{where}:{at} not valid YAML: {problem}") from e


def read_file(path: Path) -> tuple[PromptSpec, dict[str, str]]:
    """A prompt file's spec and its optional `author`/`message` (not part of the content)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB; is this a prompt file?")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text") from e
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from e
    doc = parse_yaml(text, str(path))
    spec = parse_spec(doc, str(path))
    meta = {k: doc[k] for k in ("author", "message") if doc.get(k) is not None}
    for k, v in meta.items():
        if not isinstance(v, str):
            raise UsageError(f"{path}: '{k}' must be a string")
    return spec, meta


def dump(spec: PromptSpec) -> str:
    """The YAML prompt-file text of a version (block style, keys in a reading order)."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(spec.file_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def shipped_default(name: str) -> PromptSpec | None:
    """The prompt shipped as package data (edgeprompt/registry/defaults/NAME.yaml), if there is one."""
    from importlib import resources

    res = resources.files("edgeprompt.prompts").joinpath("defaults", f"{name}.yaml")
    if not res.is_file():
        return None
    where = f"shipped prompt {name}.yaml"
    return parse_spec(parse_yaml(res.read_text(encoding="utf-8"), where), where)
