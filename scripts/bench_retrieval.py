"""Benchmark of edgeprompt.rag on real prose (Python standard-library docstrings), on this machine.

1. Index SMALL small text files (real docstrings, 1-2 chunks each) and LARGE larger ones (~25 KB) with the
   real indexer: chunks/s and bytes written per MB of text; the raw MiniLM `embed_batch` on the same chunk
   texts in the same run gives the ceiling (the indexer's overhead is the ratio).
2. Fill the folder up to FILES files (the extra files are indexed with random unit vectors instead of
   MiniLM, to save the time: walking and change detection do not depend on vector values), then change
   one file and re-run `add` on the whole folder (walk + stat + that file re-embedded by MiniLM), 3 times.
3. Grow the index to CHUNKS chunks (the rest are real docstring chunks whose vectors are perturbed copies
   of real ones, so no hour of embedding is needed: search cost does not depend on the vectors' values),
   then time `Retriever.search` (query embedding included) against the raw parts on the same queries:
   the MiniLM query embedding, the vec0 bit KNN + exact re-rank SQL, an exact float vec0 scan, FTS5.

Wall times on a shared machine depend on its load: the load average is reported, and each latency also
as CPU time of this process (both ONNX Runtime threads added), which is what an idle machine would see.

Usage: scripts/bench_retrieval [--small 400] [--large 12] [--files 5000] [--chunks 50000] [--queries 200]
                              [--with-firewall] [--json]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeprompt.app import Runtime
from edgeprompt.rag.chunking import DocChunk
from edgeprompt.rag.index import Indexer
from edgeprompt.rag.library import Library
from edgeprompt.rag.retrieve import fts_query
from edgeprompt.rag.store import DocumentStore, NewDocument, bits


def docstrings(limit: int) -> list[str]:
    """Real prose: docstrings of 25+ words from the standard library, then site-packages, in a fixed order."""
    out: list[str] = []
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "test" in path.parts or "tests" in path.parts or (root == roots[0] and "site-packages" in path.parts):
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module | ast.AsyncFunctionDef):
                    doc = ast.get_docstring(node)
                    if doc and len(doc.split()) >= 25 and "\x00" not in doc:
                        out.append(" ".join(doc.split())[:1100])
            if len(out) >= limit:
                return out[:limit]
    return out


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[max(0, int(np.ceil(p / 100 * len(s))) - 1)]


def timed(fn, queries):  # type: ignore[no-untyped-def]
    for q in queries[:3]:
        fn(q)  # warm-up
    wall, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        fn(q)
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return {
        "p50_ms": round(pct(wall, 50), 2),
        "p95_ms": round(pct(wall, 95), 2),
        "cpu_p50_ms": round(pct(cpu, 50), 2),
        "cpu_p95_ms": round(pct(cpu, 95), 2),
    }


class RandomEmbedder:
    """Random unit vectors under the real model's name: only for filling the folder fast (step 2)."""

    def __init__(self, model_hash: str) -> None:
        self.model_hash = model_hash
        self.rng = np.random.default_rng(1)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        v = self.rng.standard_normal((len(texts), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def write_files(folder: Path, texts: list[str], start: int = 0) -> None:
    for i, text in enumerate(texts, start):
        sub = folder / f"d{i // 500:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"note-{i:05d}.txt").write_text(text + "\n", encoding="utf-8")


def _indexer(rt: Runtime, scanner: bool) -> Indexer:
    """The runtime's indexer, or the same one built without the firewall's chunk scanner."""
    return rt.documents().indexer if scanner else Library(rt.db, rt.settings.section("rag"), rt.embedder, None).indexer


def bench_indexing(rt: Runtime, folder: Path, scanner: bool) -> dict:
    emb = rt.embedder()
    emb.embed_batch(["warm up the session"])
    indexer = _indexer(rt, scanner)
    c0 = time.process_time()
    summary = indexer.add([folder])
    cpu = time.process_time() - c0
    s = summary.as_dict()
    under = str(folder) + os.sep + "*"
    chunk_texts = [
        r[0]
        for r in rt.db.query(
            "SELECT c.context || char(10) || c.text FROM rag_chunks c JOIN "
            "rag_documents d ON d.id = c.doc_id WHERE d.path GLOB ?",
            (under,),
        )
    ]
    t, c = time.perf_counter(), time.process_time()
    emb.embed_batch(chunk_texts)
    raw, raw_cpu = time.perf_counter() - t, time.process_time() - c
    tokens = sum(emb.count_tokens(x) for x in chunk_texts) / max(1, len(chunk_texts))
    return {
        "files": s["indexed"],
        "chunks": s["chunks"],
        "mean_tokens_per_chunk": round(tokens, 1),
        "seconds": s["seconds"],
        "chunks_per_s": s["chunks_per_s"],
        "chunks_per_cpu_s": round(s["chunks"] / cpu, 1),
        "raw_embed_chunks_per_s": round(len(chunk_texts) / raw, 1),
        "raw_embed_chunks_per_cpu_s": round(len(chunk_texts) / raw_cpu, 1),
        "indexer_vs_raw_embedding_cpu": round(raw_cpu / cpu, 3),
        "text_mb": round(s["text_bytes"] / 1e6, 3),
        "bytes_written": s["bytes_written"],
        "bytes_written_per_mb_text": s["bytes_written_per_mb_text"],
        "bytes_written_per_file": round(s["bytes_written"] / max(1, s["indexed"])),
        "firewall_chunk_scan": indexer.scanner is not None,
    }


def fill(rt: Runtime, folder: Path, texts: list[str], start: int) -> int:
    write_files(folder, texts, start)
    fake = RandomEmbedder(rt.embedder().model_hash)
    return Indexer(rt.documents().store, lambda: fake).add([folder]).indexed  # type: ignore[arg-type, return-value]


def bench_reindex(rt: Runtime, folder: Path, scanner: bool) -> dict:
    indexer = _indexer(rt, scanner)
    files = sorted(folder.rglob("*.txt"))
    runs, cpu = [], []
    for n in range(3):
        f = files[(n + 1) * len(files) // 4]
        f.write_text(f.read_text(encoding="utf-8") + f" Edited in run {n}.\n", encoding="utf-8")
        t, c = time.perf_counter(), time.process_time()
        s = indexer.add([folder])
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        assert s.indexed == 1 and s.unchanged + s.skipped_count == len(files) - 1, s.as_dict()
    return {
        "files": len(files),
        "seconds": [round(r, 3) for r in runs],
        "median_s": round(statistics.median(runs), 3),
        "median_cpu_s": round(statistics.median(cpu), 3),
    }


def grow(rt: Runtime, target: int, texts: list[str], rng: random.Random, base: np.ndarray) -> int:
    """Add synthetic documents (real text, perturbed `base` MiniLM vectors) up to `target` chunks."""
    store = DocumentStore(rt.db)
    have = rt.db.query_one("SELECT count(*) FROM rag_chunks")[0]
    nprng = np.random.default_rng(0)
    doc = 0
    while have < target:
        n = min(50, target - have)
        picks = [rng.randrange(len(texts)) for _ in range(n)]
        # each new vector sits at cosine ~0.7 to a real one, like the field notes' clustered data (§3)
        vecs = base[nprng.integers(0, len(base), n)] + nprng.standard_normal((n, 384)).astype(np.float32) / 19.6
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        chunks = [
            DocChunk(i, f"synthetic {doc}", texts[p][:600], 1, 1, None, "line 1", f"s{doc}-{i}")
            for i, p in enumerate(picks)
        ]
        store.replace(
            NewDocument(
                f"/synthetic/{doc:05d}.txt",
                "text",
                f"synthetic {doc}",
                1,
                0.0,
                f"h{doc}",
                chunks,
                [False] * n,
                [],
                vecs.astype(np.float32),
            )
        )
        have += n
        doc += 1
    return have


def bench_queries(rt: Runtime, queries: list[str]) -> dict:
    lib = rt.documents()
    emb = rt.embedder()
    db = rt.db
    db.conn.execute("PRAGMA mmap_size=1073741824")
    n = db.query_one("SELECT count(*) FROM rag_chunks")[0]
    rows = db.query("SELECT rowid, emb_f FROM rag_vec")  # the same vectors, in an exact float table
    import sqlean
    import sqlite_vec

    ref = sqlean.connect(":memory:")
    ref.enable_load_extension(True)
    sqlite_vec.load(ref)
    ref.execute("CREATE VIRTUAL TABLE f USING vec0(emb float[384] distance_metric=cosine)")
    ref.executemany("INSERT INTO f(rowid, emb) VALUES (?, ?)", rows)
    qvecs = {q: emb.embed(q) for q in queries}

    def knn(q: str) -> list:
        v = qvecs[q]
        return db.query(
            "WITH c AS MATERIALIZED (SELECT rowid, emb_f FROM rag_vec WHERE emb MATCH vec_bit(?) "
            "AND k = ?) SELECT rowid, 1.0 - vec_distance_cosine(emb_f, ?) AS s FROM c ORDER BY s DESC "
            "LIMIT 30",
            (bits(v).tobytes(), lib.retriever.candidates, v.tobytes()),
        )

    def exact(q: str) -> list:
        return ref.execute("SELECT rowid FROM f WHERE emb MATCH ? AND k = 30", (qvecs[q].tobytes(),)).fetchall()

    def fts(q: str) -> list:
        m = fts_query(q)
        return (
            db.query("SELECT rowid FROM rag_fts WHERE rag_fts MATCH ? ORDER BY bm25(rag_fts, 2.0, 1.0) LIMIT 30", (m,))
            if m
            else []
        )

    recall = []
    for q in queries:
        want = {r[0] for r in exact(q)[:10]}
        got = {r[0] for r in knn(q)[:10]}
        recall.append(len(want & got) / 10)
    return {
        "chunks": n,
        "queries": len(queries),
        # the embedder keeps a memo of recent texts: empty it so every timed query is embedded
        "search_incl_embedding": timed(lambda q: (emb.forget_recent(), lib.retriever.search(q, 10))[1], queries),
        "raw_minilm_query_embedding": timed(lambda q: (emb.forget_recent(), emb.embed(q))[1], queries),
        "raw_vec0_bit_knn_rerank": timed(knn, queries),
        "raw_vec0_exact_float_knn": timed(exact, queries),
        "raw_fts5_bm25": timed(fts, queries),
        "bit_rerank_recall_at_10_vs_exact": round(float(np.mean(recall)), 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=400)
    ap.add_argument("--large", type=int, default=12)
    ap.add_argument(
        "--with-firewall",
        action="store_true",
        help="index through the runtime's chunk scanner too (default: the indexer alone)",
    )
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--chunks", type=int, default=50000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument(
        "--only-queries",
        action="store_true",
        help="skip steps 1-2: fill the folder with random vectors and measure queries only",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    texts = docstrings(args.files + args.large * 25 + 2000)
    large = ["\n\n".join(texts[args.files + i * 25 : args.files + (i + 1) * 25]) for i in range(args.large)]
    queries_from = texts[args.files + args.large * 25 :]
    rng = random.Random(0)
    result: dict = {"load_average_at_start": os.getloadavg(), "cpus": os.cpu_count(), "docstrings": len(texts)}
    with tempfile.TemporaryDirectory(prefix="edgeprompt-bench-") as tmp:
        home = Path(tmp) / "home"
        from edgeprompt.paths import Paths, resolve_home

        user_cache = Paths(resolve_home()).cache / "embed"  # reuse the MiniLM export of this machine if any
        (home / "cache").mkdir(parents=True)
        if user_cache.exists():
            (home / "cache" / "embed").symlink_to(user_cache, target_is_directory=True)
        with Runtime.open(home) as rt:
            folder, big = Path(tmp) / "folder", Path(tmp) / "large"
            print(f"indexing {args.small} small files…", file=sys.stderr)
            write_files(folder, texts[: args.small])
            if args.only_queries:
                rt.documents().indexer.add([folder])
            else:
                result["indexing_small_files"] = bench_indexing(rt, folder, args.with_firewall)
                print(f"indexing {args.large} larger files…", file=sys.stderr)
                write_files(big, large)
                result["indexing_large_files"] = bench_indexing(rt, big, args.with_firewall)
            # the MiniLM vectors of the real chunks, read before the re-index below replaces some of them
            real = np.stack(
                [np.frombuffer(r[0], dtype=np.float32) for r in rt.db.query("SELECT emb_f FROM rag_vec ORDER BY rowid")]
            )
            print(f"filling the folder to {args.files} files…", file=sys.stderr)
            fill(rt, folder, texts[args.small : args.files], args.small)
            if not args.only_queries:
                print("re-indexing one changed file…", file=sys.stderr)
                result["reindex_one_changed_file"] = bench_reindex(rt, folder, args.with_firewall)
            print(f"growing to {args.chunks} chunks…", file=sys.stderr)
            grow(rt, args.chunks, texts, rng, real)
            # queries: the sample question set, then opening words of random docstrings (the standard library
            # has fewer long docstrings than FILES + extra, so these may also be indexed: a search for words
            # one remembers from a note is a realistic query too)
            sample = Path(__file__).resolve().parents[1] / "samples" / "eval" / "questions.jsonl"
            questions = [json.loads(x)["question"] for x in sample.read_text(encoding="utf-8").splitlines() if x]
            pool = queries_from or texts
            words = [pool[rng.randrange(len(pool))].split() for _ in range(max(0, args.queries - len(questions)))]
            queries = (questions + [" ".join(w[: rng.randint(5, 12)]) for w in words])[: args.queries]
            print(f"{len(queries)} queries…", file=sys.stderr)
            result["query_latency"] = bench_queries(rt, queries)
        result["load_average_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
