"""What the per-file limits cost: indexing the same files with each file read in the budgeted worker process
(the default) and in-process with no limits (`[rag] parse_timeout_s = 0`, how indexing ran before).

The sample documents (all 9 formats) are copied COPIES times, each copy made distinct by a line of its own
so no file is an unchanged duplicate. Each round indexes them into a fresh database, alternating the two
modes; the median wall time is reported with the ratio. Two embedders: random unit vectors (so the reading
and the worker's round trips are most of the time: the worst case for the worker's share), and the real
MiniLM (what `docs add` costs end to end).

Usage: scripts/bench_parse_limits [--copies 10] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_retrieval import RandomEmbedder  # scripts/ is on sys.path when run as a script

from edgeprompt.app import Runtime
from edgeprompt.rag.index import Indexer
from edgeprompt.rag.parsing import ParseLimits
from edgeprompt.rag.store import DocumentStore

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "documents"


def corpus(root: Path, copies: int) -> int:
    n = 0
    for c in range(copies):
        for src in sorted(p for p in SAMPLES.rglob("*") if p.is_file()):
            dest = root / f"copy{c:03d}" / src.relative_to(SAMPLES)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, dest)
            if src.suffix in (".md", ".txt", ".py", ".csv"):  # text formats: a distinct line per copy
                with open(dest, "a", encoding="utf-8") as f:
                    f.write(f"\n{'# ' if src.suffix == '.py' else ''}copy {c}\n")
            n += 1
    return n


def one_run(work: Path, files: Path, limits: ParseLimits, real: bool) -> float:
    home = work / f"home-{time.monotonic_ns()}"
    with Runtime.open(home) as rt:
        if real:
            rt.embedder().embed_batch(["warm up"])
            embedder = rt.embedder
        else:
            fake = RandomEmbedder("random")
            embedder = lambda: fake  # noqa: E731
        indexer = Indexer(DocumentStore(rt.db), embedder, limits=limits)  # type: ignore[arg-type]
        t = time.perf_counter()
        summary = indexer.add([files])
        seconds = time.perf_counter() - t
        assert not summary.skipped_count, summary.skipped
    shutil.rmtree(home, ignore_errors=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out: dict[str, object] = {"load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out["files"] = corpus(work / "docs", args.copies)
        for real in (False, True):
            times: dict[str, list[float]] = {"worker": [], "in_process": []}
            for _ in range(args.rounds):
                times["worker"].append(one_run(work, work / "docs", ParseLimits(), real))
                times["in_process"].append(one_run(work, work / "docs", ParseLimits(timeout_s=0), real))
            med = {k: statistics.median(v) for k, v in times.items()}
            out["minilm" if real else "random_vectors"] = {
                "worker_s": round(med["worker"], 3),
                "in_process_s": round(med["in_process"], 3),
                "worker_vs_in_process": round(med["worker"] / med["in_process"], 3),
                "all_s": {k: [round(x, 3) for x in v] for k, v in times.items()},
            }
    print(json.dumps(out, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
