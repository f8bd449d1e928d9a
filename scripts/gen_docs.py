"""Write the generated references (see edgeprompt.reference); `--check` only reports which are stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeprompt.cli import build_parser  # noqa: E402
from edgeprompt.config import DEFAULTS  # noqa: E402
from edgeprompt.reference import reference_files, undocumented  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    args = ap.parse_args()
    parser = build_parser()
    for name in undocumented(parser, DEFAULTS):
        print(f"gen_docs: no description: {name}", file=sys.stderr)
    stale = []
    for rel, text in reference_files(parser, DEFAULTS).items():
        path = ROOT / rel
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    verb = "stale" if args.check else "wrote"
    print("\n".join(f"{verb} {rel}" for rel in stale) or "references up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
