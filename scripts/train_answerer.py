"""Train the sentence reader (edgeprompt.rag.reader) and export it to edgeprompt/shipped/answer/reader.{onnx,json}.

Data: COVID-QA (deepset, Apache-2.0; edgeprompt/shipped/answer/data/, see DATA.md there): 1,380 questions with
answer spans in 98 research articles. Every article is cut into sentences as sentence evidence cuts
documents; a sentence holding a question's answer is a positive, and its negatives are near misses
made the standard way: the sibling sentences of the same article that share the most content words
with the question without holding the answer (the article "talks about it but does not say"), plus one
sibling drawn at random. Nothing from ../shared/benchmarks is read (evaluation only), and our own
sample questions stay out: scripts/calibrate_answerer fits the judge on them afterwards.

Articles are split 80/20 by a hash of their id: the model trains on the 80 and the 20 is only measured
(ROC-AUC of the reader against cosine and against sentence evidence). Single-threaded torch, seconds.

Usage: scripts/train_answerer [--home DIR] [--vectors-cache FILE] [--out DIR] [--epochs N] [--seed N]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train_cache_verifier import export, train  # noqa: E402  (the same MLP recipe and int8 export)

from edgeprompt.rag import reader  # noqa: E402
from edgeprompt.rag.extract import W_LEXICAL, sentences, terms  # noqa: E402

DATA = ROOT / "edgeprompt/shipped/answer/data/covid-qa-200423.json.gz"
OUT = ROOT / "edgeprompt/shipped/answer"
HARD = 4  # near-miss siblings per question (most shared words, no answer)


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    answers: bool
    split: str  # "train" or "held-out"


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _split(article: str) -> str:
    return "held-out" if int(hashlib.sha256(article.encode()).hexdigest(), 16) % 5 == 0 else "train"


def pairs(path: Path, seed: int) -> list[Pair]:
    rng = random.Random(seed)
    data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    out: list[Pair] = []
    for article in data["data"]:
        for para in article["paragraphs"]:
            split = _split(str(para.get("document_id", article.get("title", ""))))
            sents = sentences(para["context"])
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                q, answer = qa["question"].strip(), _norm(qa["answers"][0]["text"])
                # the answer in the sentence, or a sentence that is (most of) a long answer
                holds = [s for s in sents if answer in _norm(s) or (len(s) > 40 and _norm(s) in answer)]
                if not holds or not q:
                    continue
                a_terms = terms(answer)
                rest = [s for s in sents if s not in holds and not (a_terms and len(terms(s) & a_terms) /
                                                                  len(a_terms) > 0.5)]
                q_terms = terms(q)
                rest.sort(key=lambda s: -len(q_terms & terms(s)))
                negatives = rest[:HARD] + ([rng.choice(rest[HARD:])] if rest[HARD:] else [])
                out += [Pair(q, s, True, split) for s in holds[:2]]
                out += [Pair(q, s, False, split) for s in negatives]
    return out


def vectors(texts: list[str], home: str | None, cache_file: Path | None) -> dict[str, np.ndarray]:
    """MiniLM vectors of the texts, from the same ONNX export the runtime uses (cached between runs)."""
    have: dict[str, np.ndarray] = {}
    if cache_file and cache_file.exists():
        saved = np.load(cache_file, allow_pickle=False)
        have = dict(zip(saved["texts"].tolist(), saved["vectors"], strict=True))
    todo = [t for t in texts if t not in have]
    if todo:
        from edgeprompt.runtime import Runtime

        rt = Runtime.open(home or tempfile.mkdtemp(prefix="train-answerer-"))
        have.update(zip(todo, rt.embedder().embed_batch(todo), strict=True))
        if cache_file:
            keys = sorted(have)
            np.savez(cache_file, texts=np.array(keys), vectors=np.stack([have[k] for k in keys]))
    return have


def rows(ps: list[Pair], vec: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([reader.features(vec[p.question], vec[p.sentence], p.question, p.sentence) for p in ps])


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC-AUC by ranks (ties share their mean rank)."""
    from scipy.stats import rankdata

    pos = labels.astype(bool)
    if pos.all() or not pos.any():
        return float("nan")
    r = rankdata(scores)
    return float((r[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--weight-decay", type=float, default=5e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--home", default=None, help="data home whose MiniLM export to use")
    ap.add_argument("--vectors-cache", type=Path, default=None, help="keep the vectors here between runs")
    args = ap.parse_args()
    t0 = time.time()
    ps = pairs(DATA, args.seed)
    vec = vectors(sorted({p.question for p in ps} | {p.sentence for p in ps}), args.home, args.vectors_cache)
    tr = [p for p in ps if p.split == "train"]
    ho = [p for p in ps if p.split == "held-out"]
    x, y = rows(tr, vec), np.array([p.answers for p in tr])
    model = train(x, y, args.hidden, args.epochs, args.weight_decay, args.seed)
    counts = {s: {"pairs": sum(p.split == s for p in ps), "answers": sum(p.split == s and p.answers for p in ps),
                  "questions": len({p.question for p in ps if p.split == s})} for s in ("train", "held-out")}
    meta = {"layout": reader.LAYOUT, "width": reader.width(), "arch": f"mlp-{args.hidden}", "int8": True,
            "embedder": "all-MiniLM-L6-v2 (mean pooled, L2-normalised)",
            "training": {"data": "COVID-QA 200423 (edgeprompt/shipped/answer/data, Apache-2.0)", "splits": counts,
                         "epochs": args.epochs, "weight_decay": args.weight_decay, "seed": args.seed,
                         "source": "scripts/train_answerer"}}
    path = export(model, reader.width(), args.out, meta, name="reader")
    r = reader.Reader.load(args.out)
    x_ho, y_ho = rows(ho, vec), np.array([p.answers for p in ho])
    cos = np.array([float(vec[p.question] @ vec[p.sentence]) for p in ho])
    print(json.dumps({"train_auc": round(auc(r.probabilities(x), y), 4),
                      "held_out_auc": round(auc(r.probabilities(x_ho), y_ho), 4),
                      "held_out_cosine_auc": round(auc(cos, y_ho), 4),
                      "held_out_evidence_auc": round(auc(cos + W_LEXICAL * x_ho[:, -2], y_ho), 4),
                      "splits": counts, "onnx_bytes": path.stat().st_size,
                      "seconds": round(time.time() - t0, 1)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
