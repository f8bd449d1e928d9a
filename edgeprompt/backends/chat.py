"""A model folder's chat template and tokenizer, without importing transformers (and so torch).

The template is rendered the way transformers' `apply_chat_template` does it (a sandboxed Jinja
environment with the same helpers), then encoded without adding special tokens, so both backends count
and feed exactly the ids the model was trained to see.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from edgeprompt.backends.base import Message
from edgeprompt.errors import ModelLoadError


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{path} is unreadable or not JSON ({e.__class__.__name__})") from e
    return data if isinstance(data, dict) else {}


def _token_text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return value if isinstance(value, str) else ""


def find_template(folder: Path, config: dict[str, Any]) -> str:
    """tokenizer_config.json's `chat_template` (a string or named list), else chat_template.jinja/.json."""
    raw = config.get("chat_template")
    if isinstance(raw, list):
        named = {t.get("name"): t.get("template") for t in raw if isinstance(t, dict)}
        raw = named.get("default") or next(iter(named.values()), None)
    if isinstance(raw, str) and raw.strip():
        return raw
    jinja = folder / "chat_template.jinja"
    if jinja.exists():
        return jinja.read_text(encoding="utf-8")
    raw = _read(folder / "chat_template.json").get("chat_template")
    if isinstance(raw, str) and raw.strip():
        return raw
    raise ModelLoadError(
        f"{folder} has no chat template (tokenizer_config.json chat_template or "
        "chat_template.jinja); edgeprompt needs an instruct/chat model"
    )


class ChatFormat:
    """Render messages with the model's template and encode them to token ids."""

    def __init__(self, folder: Path) -> None:
        import jinja2
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment
        from tokenizers import Tokenizer

        tokenizer_file = folder / "tokenizer.json"
        if not tokenizer_file.exists():
            raise ModelLoadError(f"{folder} has no tokenizer.json")
        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as e:  # the tokenizers library raises its own exception types
            raise ModelLoadError(f"{tokenizer_file} is not a valid tokenizer ({e})") from e
        config = _read(folder / "tokenizer_config.json")
        self.special = {k: _token_text(config.get(k)) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}

        def raise_exception(message: str) -> None:
            raise jinja2.exceptions.TemplateError(message)

        def tojson(
            x: Any,
            ensure_ascii: bool = False,
            indent: int | None = None,
            separators: Any = None,
            sort_keys: bool = False,
        ) -> str:
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self.template = env.from_string(find_template(folder, config))
        except jinja2.exceptions.TemplateError as e:
            raise ModelLoadError(f"{folder}: the chat template does not parse ({e})") from e

    def render(self, messages: Sequence[Message]) -> str:
        import jinja2

        try:
            return self.template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                **self.special,
            )
        except jinja2.exceptions.TemplateError as e:
            raise ModelLoadError(f"the model's chat template refused these messages ({e})") from e

    def encode(self, messages: Sequence[Message]) -> list[int]:
        """Prompt ids; the template already holds any BOS/special tokens, so none are added."""
        return self.tokenizer.encode(self.render(messages), add_special_tokens=False).ids

    def eos_ids(self, folder: Path) -> set[int]:
        """End-of-turn ids: the tokenizer's eos plus generation_config/config eos_token_id(s)."""
        ids: set[int] = set()
        eos = self.special.get("eos_token")
        if eos and (i := self.tokenizer.token_to_id(eos)) is not None:
            ids.add(i)
        for name in ("generation_config.json", "config.json"):
            value = _read(folder / name).get("eos_token_id")
            ids.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int))
        return ids
