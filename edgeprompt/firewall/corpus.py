"""The stage-1 training corpus: every labelled source in one list, each row tagged with where it came from.

Sources: the dev set's 70 % side, split by repository (tensor-trust, bipia, awesome-chatgpt-prompts), our
own examples (`edgeprompt/shipped/firewall/extra_train.jsonl`, source `edgeprompt-authors`) and the public
data files in `edgeprompt/shipped/firewall/data/*.jsonl` (one file a source; `edgeprompt/shipped/firewall/DATA.md`
says where each came from and under which licence). Leave-one-source-out evaluation holds out one `source`
at a time, which is the figure that predicts text nobody here wrote (a random split only measures the
shape of the training set).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgeprompt.firewall import evaluate

CONTEXTS = ("user", "document", "tool")
OWN_SOURCE = "edgeprompt-authors"
_DEV_SOURCES = {
    "HumanCompatibleAI/tensor-trust-data": "tensor-trust",
    "microsoft/BIPIA": "bipia",
    "f/awesome-chatgpt-prompts": "awesome-chatgpt-prompts",
}


@dataclass(frozen=True)
class CorpusRow:
    text: str
    label: int  # 1 = attack
    source: str
    context: str  # user | document | tool: where the text reaches the model from
    lang: str
    kind: str
    group: str  # rows that share a group (a document and its injected twin) stay on one side of a split


def _read(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _context(value: object) -> str:
    return value if isinstance(value, str) and value in CONTEXTS else "user"


def from_dev(rows: Iterable[dict]) -> list[CorpusRow]:  # type: ignore[type-arg]
    return [
        CorpusRow(
            str(r["text"]),
            int(r["label"]),
            _DEV_SOURCES.get(str(r.get("source")), str(r.get("source"))),
            evaluate.context_of(r),
            "en",
            str(r.get("subset", "")),
            str(r.get("pair_id") or r["id"]),
        )
        for r in rows
    ]


def from_file(path: Path, default_source: str) -> list[CorpusRow]:
    out = []
    for i, r in enumerate(_read(path)):
        source = str(r.get("source") or default_source)
        out.append(
            CorpusRow(
                str(r["text"]),
                int(r["label"]),
                source,
                _context(r.get("context")),
                str(r.get("lang") or "und"),
                str(r.get("kind") or ""),
                str(r.get("group") or f"{source}:{i}"),
            )
        )
    return out


def data_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("*.jsonl")) if data_dir.is_dir() else []


def load(dev: Path | None, extra: Path, data_dir: Path) -> list[CorpusRow]:
    """The training side of every source: the dev set's 70 % (its 30 % stays for `bench_firewall`), our own
    examples and each public data file. Exact duplicate texts keep their first occurrence."""
    rows: list[CorpusRow] = []
    if dev is not None and dev.is_file():
        train, _test = evaluate.split(evaluate.read_jsonl(dev))
        rows += from_dev(train)
    rows += [
        CorpusRow(e.text, e.label, OWN_SOURCE, e.context, e.lang, e.kind, e.group) for e in from_file(extra, OWN_SOURCE)
    ]
    for path in data_files(data_dir):
        rows += from_file(path, path.stem)
    seen: set[str] = set()
    unique = []
    for r in rows:
        key = " ".join(r.text.lower().split())
        if key and key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def cap(rows: list[CorpusRow], per_source_label: int) -> list[CorpusRow]:
    """At most `per_source_label` rows of each (source, label), chosen by a hash of the text (deterministic,
    independent of file order)."""
    import hashlib

    def key(r: CorpusRow) -> str:
        return hashlib.sha256(f"{r.source}:{r.text}".encode()).hexdigest()

    kept: dict[tuple[str, int], list[CorpusRow]] = {}
    for r in sorted(rows, key=key):
        bucket = kept.setdefault((r.source, r.label), [])
        if len(bucket) < per_source_label:
            bucket.append(r)
    chosen = {id(r) for bucket in kept.values() for r in bucket}
    return [r for r in rows if id(r) in chosen]
