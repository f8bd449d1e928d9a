"""Measure stage 1 on an external labelled set that nobody here trained or tuned on (evaluation only).

Default set: ../shared/benchmarks/injection-external/set.jsonl (rows: text, label, source, lang, context,
subset). Every row is scanned as the user's turn and again in its own context (document rows as retrieved
text); reported: recall (flag or block) and recall with block only, FPR and benign blocked, per source, per
language, CyberSecEval by variant, and recall without CyberSecEval (its attacks often depend on a system
prompt the set does not carry). Nothing here feeds back into training: the figures are only printed.

    scripts/eval_firewall [--set FILE] [--models DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.firewall import evaluate  # noqa: E402
from edgeprompt.firewall.scanner import Scanner  # noqa: E402

DEFAULT_SET = ROOT.parent / "shared" / "benchmarks" / "injection-external" / "set.jsonl"
CYBERSECEVAL = "cyberseceval_prompt_injection"


def scanner_for(models: Path) -> Scanner:
    from edgeprompt.embed import Embedder
    from edgeprompt.firewall.classifier import Classifier
    from edgeprompt.firewall.rules import load_pack

    return Scanner(load_pack(models), Classifier.load(models, Embedder.load().embed_batch))


def figures(rows: list[dict[str, Any]], decisions: list[str]) -> dict[str, Any]:
    """recall / block-only recall over attacks, FPR / blocked over benign rows."""
    attacks = [d for r, d in zip(rows, decisions, strict=True) if r["label"] == 1]
    benign = [d for r, d in zip(rows, decisions, strict=True) if r["label"] == 0]
    out: dict[str, Any] = {"attacks": len(attacks), "benign": len(benign)}
    if attacks:
        out["recall"] = round(sum(d != "allow" for d in attacks) / len(attacks), 4)
        out["recall_block"] = round(sum(d == "block" for d in attacks) / len(attacks), 4)
    if benign:
        out["fpr"] = round(sum(d != "allow" for d in benign) / len(benign), 4)
        out["benign_blocked"] = sum(d == "block" for d in benign)
    return out


def grouped(rows: list[dict[str, Any]], decisions: list[str], key: Any) -> dict[str, Any]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        k = key(r)
        if k is not None:
            groups[str(k)].append(i)
    return {k: figures([rows[i] for i in idx], [decisions[i] for i in idx]) for k, idx in sorted(groups.items())}


def measure(rows: list[dict[str, Any]], scanner: Scanner) -> dict[str, Any]:
    as_user = [scanner.scan(r["text"], "user").decision for r in rows]
    in_context = [scanner.scan(r["text"], r.get("context") or "user").decision for r in rows]
    not_cse = [i for i, r in enumerate(rows) if not str(r.get("source", "")).startswith(CYBERSECEVAL)]
    english = [i for i, r in enumerate(rows) if r.get("lang") == "en"]
    other = [i for i, r in enumerate(rows) if r.get("lang") != "en"]
    pick = lambda idx, ds: ([rows[i] for i in idx], [ds[i] for i in idx])  # noqa: E731
    return {
        "rows": len(rows),
        "overall": figures(rows, in_context),
        "overall_as_user": figures(rows, as_user),
        "without_cyberseceval": figures(*pick(not_cse, in_context)),
        "english": figures(*pick(english, in_context)),
        "other_languages": figures(*pick(other, in_context)),
        "per_source": grouped(rows, in_context, lambda r: r.get("source")),
        "per_language": grouped(rows, in_context, lambda r: r.get("lang")),
        "cyberseceval_by_variant": grouped(
            rows, in_context, lambda r: r.get("subset") if str(r.get("source", "")).startswith(CYBERSECEVAL) else None
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument(
        "--models",
        type=Path,
        default=Path("/nonexistent-edgeprompt-home/models"),
        help="a models folder whose firewall/ overrides the shipped rules.toml / classifier",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.set.is_file():
        print(f"eval_firewall: {args.set} not found", file=sys.stderr)
        return 2
    report = measure(evaluate.read_jsonl(args.set), scanner_for(args.models))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name in ("overall", "overall_as_user", "without_cyberseceval", "english", "other_languages"):
        f = report[name]
        print(
            f"{name:<22} recall {f.get('recall', '-')} (block {f.get('recall_block', '-')})  "
            f"FPR {f.get('fpr', '-')}  benign blocked {f.get('benign_blocked', '-')}"
        )
    for title in ("per_source", "per_language", "cyberseceval_by_variant"):
        print(f"\n{title}")
        for k, f in report[title].items():
            print(
                f"  {k:<44} attacks {f['attacks']:>3} recall {f.get('recall', '-'):<7} "
                f"benign {f['benign']:>3} FPR {f.get('fpr', '-')}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
