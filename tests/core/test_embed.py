from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Mein Mietvertrag endet im März 2026.",
    "What is the deductible on my car insurance policy?",
    "",
    "def add(a, b):\n    return a + b",
    "word " * 400,  # longer than the model's 256-token window: truncated like sentence-transformers
]


@pytest.mark.slow  # loads the PyTorch model beside the ONNX one
def test_onnx_matches_pytorch_sentence_transformers(embedder) -> None:  # type: ignore[no-untyped-def]
    from sentence_transformers import SentenceTransformer

    from edgeprompt.embed import weights_dir

    ref = SentenceTransformer(str(weights_dir()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    ours = embedder.embed_batch(TEXTS)
    assert ours.shape == (len(TEXTS), 384)
    cos = (ours * ref).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cos.min() >= 0.999, cos


def test_vectors_are_unit_norm_and_batch_independent(embedder) -> None:  # type: ignore[no-untyped-def]
    batch = embedder.embed_batch(TEXTS[:3], batch_size=2)
    embedder.forget_recent()  # each text through the model again, not the batch's vectors from the memo
    single = np.stack([embedder.embed(t) for t in TEXTS[:3]])
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert np.allclose(batch, single, atol=1e-5)
    assert embedder.embed_batch([]).shape == (0, 384)


def test_export_is_keyed_by_weights_hash_and_reused(embed_cache: Path) -> None:
    from edgeprompt.embed import ensure_exported, weights_dir, weights_hash

    folder = ensure_exported(embed_cache)
    assert folder.name == f"minilm-{weights_hash(weights_dir())[:16]}"
    mtime = (folder / "model.onnx").stat().st_mtime
    assert ensure_exported(embed_cache) == folder
    assert (folder / "model.onnx").stat().st_mtime == mtime


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
