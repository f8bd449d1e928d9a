"""What a cached answer depends on, and the exact key hashed from it.

The exact key is SHA-256 over the canonical JSON of: the model id and a hash of its weights, the prompt
version, the rendered messages (system prompt, sources, history, question), the generation parameters, and
the ids and document versions of the retrieved chunks. Change any of them and the key changes, so an
entry written under an old model, prompt label or document simply stops matching.
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.canonical import canonical_json, sha256_hex

if TYPE_CHECKING:
    from edgeprompt.backends.base import GenerationParams, Message
    from edgeprompt.catalog.cards import ModelCard

WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".onnx.data", ".bin", ".gguf", ".npz")


@dataclass(frozen=True)
class SourceRef:
    """One retrieved chunk an answer was written from."""

    path: str
    chunk_id: int
    doc_sha256: str


@dataclass(frozen=True)
class CacheQuery:
    """Everything the answer to one request depends on."""

    question: str
    model_key: str  # "<model id>@<weights hash>"
    prompt_version: str
    messages: tuple[tuple[str, str], ...]  # (role, content), as rendered for the model
    params: dict[str, Any]
    sources: tuple[SourceRef, ...] = ()
    history_len: int = 0
    retrieval: str = "off"  # off | abstained | sources: what the document search decided for this request
    exact_key: str = field(init=False)
    context_hash: str = field(init=False)
    docs_hash: str = field(init=False)
    params_hash: str = field(init=False)

    def __post_init__(self) -> None:
        docs = sorted((s.path, s.chunk_id, s.doc_sha256) for s in self.sources)
        set_ = object.__setattr__
        set_(self, "docs_hash", sha256_hex(canonical_json(docs))[:32])
        set_(self, "params_hash", sha256_hex(canonical_json(self.params))[:32])
        # The semantic level matches the question loosely but everything around it exactly: the messages
        # before the question (system prompt, sources, history) and the retrieval outcome form its context.
        context = [self.retrieval, *(list(m) for m in self.messages[:-1])]
        set_(self, "context_hash", sha256_hex(canonical_json(context))[:32])
        set_(
            self,
            "exact_key",
            sha256_hex(
                canonical_json(
                    {
                        "model": self.model_key,
                        "prompt_version": self.prompt_version,
                        "messages": [list(m) for m in self.messages],
                        "params": self.params,
                        "sources": docs,
                        "retrieval": self.retrieval,
                    }
                )
            ),
        )

    @property
    def scope(self) -> int:
        return scope(self.model_key, self.prompt_version, self.context_hash)

    @property
    def sampled(self) -> bool:
        return float(self.params.get("temperature", 0.0)) > 0.0


def scope(model_key: str, prompt_version: str, context_hash: str) -> int:
    """One signed 63-bit integer naming where a semantic match may come from (sqlite-vec filters integers fast)."""
    digest = hashlib.sha256("\x00".join((model_key, prompt_version, context_hash)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def normalise(text: str) -> str:
    """The form two questions are compared in for the fallback's same-question match."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def params_dict(p: GenerationParams) -> dict[str, Any]:
    return {
        "max_tokens": p.max_tokens,
        "temperature": float(p.temperature),
        "top_p": float(p.top_p),
        "seed": p.seed if p.temperature > 0 else None,
        "stop": list(p.stop),
    }


def build_query(
    question: str,
    model_key: str,
    prompt_version: str,
    messages: Sequence[Message],
    params: GenerationParams,
    sources: Sequence[SourceRef] = (),
    history_len: int = 0,
    retrieval: str = "off",
) -> CacheQuery:
    return CacheQuery(
        question,
        model_key,
        prompt_version,
        tuple((m.role, m.content) for m in messages),
        params_dict(params),
        tuple(sources),
        history_len,
        retrieval,
    )


def _weight_files(card: ModelCard) -> list[Path]:
    files: list[Path] = []
    for fmt in ("mlx", "onnx", "hf"):
        folder = card.path_for(fmt)
        if folder is not None and folder.is_dir():
            files += sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    return files


def weights_hash(card: ModelCard, stamp_dir: Path) -> str:
    """SHA-256 over the card's weight files, memoised by (path, size, mtime) so it is read once per change."""
    files = _weight_files(card)
    if not files:
        return sha256_hex(card.id)[:16]  # echo, extractive: no weights, the id is the model
    sig = [(str(p), p.stat().st_size, p.stat().st_mtime) for p in files]
    stamp = stamp_dir / f"weights-{sha256_hex(card.id)[:12]}.json"
    try:
        known = json.loads(stamp.read_text())
        if known.get("sig") == [list(s) for s in sig]:
            return str(known["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for block in iter(functools.partial(f.read, 1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()[:16]
    stamp_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"sig": sig, "sha256": digest}))
    return digest
