"""Benchmark of the prompt registry: cached render vs raw Jinja2, and promote/rollback latency.

Run: scripts/bench_registry [--n 5000] [--moves 200] [--json]

In one process, on one fresh data home (a temporary folder on the same disk as the working directory, so
`synchronous=FULL` commits pay a real fsync):
- render: `PromptRegistry.render(name, label, vars)` on a warm template cache (label lookup in SQLite,
  variable checks, sandboxed render) against two peers measured in the same run: Jinja2 compiling and
  rendering the same template every time (no cache), and Jinja2 rendering an already compiled template
  (the floor).
- promote / rollback: `promote()` of a version whose suite already passed on the model (the registry's
  check of the recorded run, then the label move and its history row in one fsync'd transaction), and
  `Labels.rollback`, alternating.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GREET = {
    "name": "greet",
    "description": "greets a person by name",
    "system": "You are a friendly assistant.",
    "template": "Please greet {{ name }} warmly.",
    "variables": {"name": {"type": "string"}},
    "params": {"temperature": 0.2, "max_tokens": 128},
    "tests": [{"vars": {"name": "Ada"}, "assert": [{"type": "contains", "value": "Ada"}]}],
}


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Milliseconds per call, after a short warm-up."""
    for _ in range(min(50, n)):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(ms), 4), "p95_ms": round(q[94], 4), "n": len(ms)}


def bench(n: int, moves: int, workdir: Path) -> dict[str, Any]:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from edgeprompt.app import Runtime
    from edgeprompt.prompts.spec import parse_spec
    from edgeprompt.prompts.suite import promote, run_suite

    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-registry-") as home, Runtime.open(home) as rt:
        reg, parts = rt.registry(), rt.suite_parts()
        v1 = reg.push(parse_spec(GREET, "bench"), "bench").version
        v2 = reg.push(parse_spec({**GREET, "template": "Please greet {{ name }} kindly."}, "bench"), "bench").version
        for vid in (v1, v2):
            assert run_suite(parts, reg, reg.get(vid), "echo").passed
        promote(parts, reg, "greet", v1, "production", "echo")

        cached = timed(lambda: reg.render("greet", "production", {"name": "Ada"}), n)
        env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        uncached = timed(
            lambda: (
                env.from_string(GREET["system"]).render(name="Ada"),
                env.from_string(GREET["template"]).render(name="Ada"),
            ),
            n,
        )
        sys_t, user_t = env.from_string(GREET["system"]), env.from_string(GREET["template"])
        floor = timed(lambda: (sys_t.render(name="Ada"), user_t.render(name="Ada")), n)

        promote_ms, rollback_ms = [], []
        for _ in range(moves):
            t0 = time.perf_counter_ns()
            promote(parts, reg, "greet", v2, "production", "echo")
            promote_ms.append((time.perf_counter_ns() - t0) / 1e6)
            t0 = time.perf_counter_ns()
            reg.labels.rollback("greet", "production")
            rollback_ms.append((time.perf_counter_ns() - t0) / 1e6)
        assert reg.labels.target("greet", "production") == v1
        integrity = rt.db.query_one("PRAGMA integrity_check")[0]
        cache = reg.templates.stats()

    c, u, f = summary(cached), summary(uncached), summary(floor)
    return {
        "render_cached": c,
        "render_uncached_jinja2": u,
        "render_precompiled_jinja2": f,
        "uncached_over_cached_p50": round(u["p50_ms"] / c["p50_ms"], 2),
        "cached_over_precompiled_p50": round(c["p50_ms"] / f["p50_ms"], 2),
        "template_cache": cache,
        "promote": summary(promote_ms),
        "rollback": summary(rollback_ms),
        "integrity_check": integrity,
        "targets": {"render_cached_p50_ms": 0.5, "promote_rollback_ms": 10},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="renders per variant")
    p.add_argument("--moves", type=int, default=200, help="promote + rollback pairs")
    p.add_argument("--dir", type=Path, default=Path.cwd(), help="where the temporary data home goes")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = bench(args.n, args.moves, args.dir)
    if args.json:
        print(json.dumps(r))
        return 0
    rows = [
        ("render, registry (template cache warm)", r["render_cached"]),
        ("render, Jinja2 compile + render each time", r["render_uncached_jinja2"]),
        ("render, Jinja2 precompiled template", r["render_precompiled_jinja2"]),
        ("promote (suite already passed)", r["promote"]),
        ("rollback", r["rollback"]),
    ]
    for name, s in rows:
        print(f"{name:<44} p50 {s['p50_ms']:8.4f} ms   p95 {s['p95_ms']:8.4f} ms   n={s['n']}")
    print(
        f"uncached / cached (p50): {r['uncached_over_cached_p50']}x   "
        f"cached / precompiled (p50): {r['cached_over_precompiled_p50']}x   "
        f"cache {r['template_cache']}   integrity {r['integrity_check']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
