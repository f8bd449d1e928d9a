"""Observatory benchmarks; prints one JSON object (progress on stderr).

drift:  alarm rates of the drift test over many windows of real MiniLM embeddings of generated questions:
        same-distribution windows (false alarms) and windows with a 30 % topic shift (power).

report: 10,000 synthetic-but-realistic traces (the pipeline's stages and attributes, a week of diurnal traffic,
        feedback, cache hits, firewall actions, retrieval, confidence, real MiniLM embeddings of generated
        questions with a 30 % topic shift on the last two days) written through the real TraceLog; then the
        report is timed in-process and as `edgeprompt observe report --json` in a fresh process, next to the
        raw read of the same rows (SQL + JSON decoding: the floor any report pays) in the same run. CPU seconds
        are reported next to wall seconds: on a shared, loaded machine the wall clock mostly measures the others.
sweep:  prompt lengths 256 → 8k tokens through the real pipeline (cache off, so every request runs the model)
        with the echo backend and with the tiny demo-architecture model built with an 8k context (mlx and onnx);
        latency and time to first token against prompt length, plotted as SVG into an HTML page.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "observatory"))  # the generated-question topics shared with the tests

from obs_synth import questions  # noqa: E402

from edgeprompt.observatory.signals import keywords  # noqa: E402

DAY = 86400.0
ANSWER_TOKENS = 16  # the sweep's answer length limit
MODELS = {"demo": (0.7, 850.0, 90.0), "qwen2.5-0.5b-int4": (0.3, 230.0, 45.0)}  # share, prefill tok/s, decode tok/s
STAGES_MS = {
    "session.load": 2.0,
    "route": 0.6,
    "firewall.input": 4.0,
    "model.load": 0.3,
    "prompt.render": 1.2,
    "retrieval": 14.0,
    "cache.lookup": 11.0,
    "firewall.isolate": 1.0,
    "context.fit": 0.6,
    "firewall.output": 2.0,
    "cache.store": 5.0,
    "session.save": 4.0,
    "observe.signals": 9.0,
}


def info(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 4)


# -- report over 10k traces ---------------------------------------------------------------------------------


def _pools(rt: Any) -> dict[str, Any]:
    topics = ("cooking", "programming", "travel", "finance", "astronomy")
    texts = {t: questions(t) for t in topics}
    emb = rt.embedder()
    return {t: (qs, emb.embed_batch(qs)) for t, qs in texts.items()}


def _when(rng: random.Random, now: float, days: int) -> float:
    while True:  # more traffic in working hours
        t = now - rng.random() * days * DAY
        hour = time.localtime(t).tm_hour
        if rng.random() < (1.0 if 8 <= hour <= 18 else 0.25):
            return t


def _trace(rng: random.Random, started: float, now: float, pools: dict[str, Any]) -> tuple[Any, Any, list[str], int]:
    from edgeprompt.store.traces import Trace

    shifted = started > now - 2 * DAY
    topic = (
        "astronomy" if shifted and rng.random() < 0.3 else rng.choice(("cooking", "programming", "travel", "finance"))
    )
    qs, vecs = pools[topic]
    k = rng.randrange(len(qs))
    model = "demo" if rng.random() < MODELS["demo"][0] else "qwen2.5-0.5b-int4"
    _, prefill, decode = MODELS[model]
    t_in = int(min(9000, rng.lognormvariate(5.6, 0.8)))
    t_out = min(256, int(rng.lognormvariate(4.2, 0.7)) + 1)
    version = "v1" if started < now - 3 * DAY else "v2"
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": model,
        "edgeprompt.prompt.name": "assistant",
        "edgeprompt.prompt.version": version,
        "edgeprompt.prompt.label": "production",
    }
    trace = Trace(operation="chat", started_at=started, model=model, attributes=attrs)
    total_ms = 0.0
    r = rng.random()
    cache_level = "exact" if r < 0.04 else "semantic" if r < 0.12 else "none"
    fw_in = "block" if rng.random() < 0.01 else "flag" if rng.random() < 0.03 else "allow"
    for name, ms in STAGES_MS.items():
        if name == "cache.store":
            continue
        a: dict[str, Any] = {}
        if name == "firewall.input":
            a = {"edgeprompt.firewall.input.decision": fw_in, "edgeprompt.firewall.input.score": rng.random()}
            ms *= 1 + t_in / 2000
        elif name == "retrieval":
            used = rng.random() < 0.4
            a = {
                "edgeprompt.rag.used": used,
                "edgeprompt.rag.sources": rng.randint(3, 5) if used else 0,
                "edgeprompt.rag.abstained": used and rng.random() < 0.05,
            }
        elif name == "cache.lookup":
            a = {"edgeprompt.cache.hit": cache_level != "none", "edgeprompt.cache.level": cache_level}
            attrs.update(a)
        elif name == "firewall.output":
            a = {"edgeprompt.firewall.output.decision": "flag" if rng.random() < 0.02 else "allow"}
        elif name == "observe.signals":
            cpu = rng.lognormvariate(-1.0, 0.6)
            a = {
                "edgeprompt.answer.refusal": rng.random() < 0.015,
                "edgeprompt.answer.abstention": False,
                "edgeprompt.answer.citations": rng.choice((0, 1, 2, 2, 3, 3, 3)),
                "edgeprompt.energy.joules": cpu * 10.0,
                "edgeprompt.energy.source": "estimate",
                "edgeprompt.cpu_s": cpu,
                "edgeprompt.observe.embedded": True,
            }
        ms *= rng.lognormvariate(0, 0.35)
        total_ms += ms
        trace.record(name, ms, **a)
        if name == "context.fit":
            ttft = t_in / prefill * 1000 * rng.lognormvariate(0, 0.15)
            tps = decode * rng.lognormvariate(0, 0.1)
            gen_ms = ttft + (t_out - 1) / tps * 1000
            lp = min(-0.02, rng.gauss(-0.6 - t_in / 20000, 0.35))
            total_ms += gen_ms
            trace.record(
                "generate",
                gen_ms,
                **{
                    "gen_ai.usage.input_tokens": t_in,
                    "gen_ai.usage.output_tokens": t_out,
                    "edgeprompt.ttft_ms": ttft,
                    "edgeprompt.tokens_per_s": tps,
                    "edgeprompt.confidence.mean_logprob": lp,
                    "edgeprompt.confidence.mean_entropy": -lp * 1.8,
                    "gen_ai.response.finish_reasons": ["length" if t_out == 256 else "stop"],
                },
            )
    attrs.update(
        {
            "gen_ai.usage.input_tokens": t_in,
            "gen_ai.usage.output_tokens": t_out,
            "edgeprompt.finish_reason": "length" if t_out == 256 else "stop",
        }
    )
    if rng.random() < 0.005:
        trace.status = "error"
        attrs["error.type"] = "ModelLoadError"
    trace._t0 = time.perf_counter() - total_ms / 1000.0  # so TraceLog.save records the request's duration
    thumbs = 0 if rng.random() > 0.15 else (1 if rng.random() < (0.8 if version == "v1" else 0.68) else -1)
    return trace, vecs[k], keywords(qs[k]), thumbs


def write_traces(rt: Any, n: int, seed: int = 0) -> dict[str, Any]:
    from edgeprompt.observatory.signals import store as store_signals
    from edgeprompt.store.feedback import FeedbackStore
    from edgeprompt.store.traces import TraceLog

    rng = random.Random(seed)
    pools = _pools(rt)
    now = time.time()
    log, fb, model_hash = TraceLog(rt.db), FeedbackStore(rt.db), rt.embedder().model_hash
    t0 = time.perf_counter()
    made = 0
    while made < n:
        with rt.db.transaction():  # batches of 500: the real TraceLog.save, one commit per batch
            for _ in range(min(500, n - made)):
                trace, qvec, terms, thumbs = _trace(rng, _when(rng, now, 7), now, pools)
                log.save(trace)
                store_signals(rt.db, trace.id, model_hash, qvec, qvec, terms)
                if thumbs:
                    fb.thumbs(trace.id, thumbs > 0)
                made += 1
        info(f"  {made} traces written")
    return {"traces": n, "write_s": round(time.perf_counter() - t0, 2)}


def raw_read(db: Any, since: float) -> int:
    """The floor: fetch the same rows and decode their JSON, nothing else."""
    n = 0
    for (a,) in db.query("SELECT attributes FROM traces WHERE started_at >= ?", (since,)):
        json.loads(a)
        n += 1
    for (a,) in db.query(
        "SELECT s.attributes FROM trace_spans s JOIN traces t ON t.id = s.trace_id WHERE t.started_at >= ?", (since,)
    ):
        json.loads(a)
    db.query("SELECT f.* FROM feedback f JOIN traces t ON t.id = f.trace_id WHERE t.started_at >= ?", (since,))
    db.query("SELECT s.* FROM obs_signals s JOIN traces t ON t.id = s.trace_id WHERE t.started_at >= ?", (since,))
    return n


def bench_report(home: Path, n: int, repeats: int, out_dir: Path) -> dict[str, Any]:
    from edgeprompt.app import Runtime
    from edgeprompt.observatory.html import render
    from edgeprompt.observatory.report import build_report

    with Runtime.open(home) as rt:
        written = write_traces(rt, n)
        since = time.time() - 8 * DAY
        section = rt.settings.section("observatory")
        raw, inproc, inproc_cpu, html = [], [], [], []
        for _ in range(repeats):
            t = time.perf_counter()
            raw_read(rt.db, since)
            raw.append(time.perf_counter() - t)
            t, c = time.perf_counter(), time.process_time()
            rep = build_report(rt.db, section, since)
            inproc.append(time.perf_counter() - t)
            inproc_cpu.append(time.process_time() - c)
            t = time.perf_counter()
            page = render(rep)
            html.append(time.perf_counter() - t)
        (out_dir / "report-10k.html").write_text(page, encoding="utf-8")
        (out_dir / "report-10k.json").write_text(json.dumps(rep, indent=1), encoding="utf-8")
    cli, cli_cpu = [], []
    for _ in range(repeats):
        t, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [sys.executable, "-m", "edgeprompt", "--home", str(home), "observe", "report", "--since", "8d", "--json"],
            check=True,
            capture_output=True,
        )
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli.append(time.perf_counter() - t)
        cli_cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    q = rep["drift"]["questions"]
    return {
        **written,
        "requests_in_report": rep["requests"],
        "raw_read_s": _median(raw),
        "report_in_process_s": _median(inproc),
        "report_in_process_cpu_s": _median(inproc_cpu),
        "html_render_s": _median(html),
        "report_cli_fresh_process_s": _median(cli),
        "report_cli_fresh_process_cpu_s": _median(cli_cpu),
        "report_vs_raw_read": round(statistics.median(inproc) / statistics.median(raw), 1),
        "topics": [(t["label"], t["requests"]) for t in rep["topics"]],
        "drift_alarms": q["alarms"],
        "drift_windows": [(w["window"], w.get("auc")) for w in q["windows"]],
    }


# -- drift: false alarms and power ----------------------------------------------------------------------------


def bench_drift(home: Path, trials: int, sizes: list[int]) -> dict[str, Any]:
    """Alarm rates of the drift test on real MiniLM embeddings: same-distribution windows (false alarms) and
    windows where 30 % of the questions moved (a new topic, or mass moved between known topics)."""
    import numpy as np

    from edgeprompt.app import Runtime
    from edgeprompt.observatory.drift import DriftThresholds, two_sample
    from edgeprompt.observatory.report import one_thread

    base = ("cooking", "programming", "travel", "finance")
    mixes = {
        "same": dict.fromkeys(base, 0.25),
        "new_topic_30": {**{t: 0.175 for t in base}, "gardening": 0.3},
        "reweighted_30": {"cooking": 0.4, "programming": 0.4, "travel": 0.1, "finance": 0.1},
    }
    with Runtime.open(home) as rt:
        emb = rt.embedder()
        pools = {t: emb.embed_batch(questions(t)) for t in (*base, "gardening")}
    rng = np.random.default_rng(2024)

    def draw(weights: dict[str, float], n: int) -> Any:
        names = list(weights)
        picks = rng.choice(len(names), size=n, p=np.array([weights[t] for t in names]))
        return np.vstack([pools[names[i]][rng.integers(len(pools[names[i]]))] for i in picks])

    th = DriftThresholds()
    out: dict[str, Any] = {"alpha": th.alpha, "min_auc": th.min_auc, "trials": trials}
    with one_thread():
        for n in sizes:
            for name, mix in mixes.items():
                t0 = time.process_time()
                alarms = sum(two_sample(draw(mixes["same"], n), draw(mix, n), th, seed=i).alarm for i in range(trials))
                out[f"n{n}_{name}_alarm_rate"] = round(alarms / trials, 4)
                info(f"  n={n} {name}: {alarms}/{trials} alarms ({time.process_time() - t0:.1f} s cpu)")
    return out


# -- prompt-length sweep -------------------------------------------------------------------------------------


def _question(backend: Any, target: int, nonce: int) -> str:
    """Words from the generated questions, sized so the prompt has about `target` tokens for this backend."""
    from edgeprompt.backends.base import Message

    words = " ".join(questions("travel") + questions("cooking")).split()
    n = target
    for _ in range(4):
        text = f"[{nonce}] " + " ".join(words[i % len(words)] for i in range(n)) + " ?"
        have = backend.count_tokens([Message("user", text)])
        n = max(8, int(n * target / max(1, have)))
    return text


def _sweep_one(rt: Any, model: str, backend: str | None, lengths: list[int], repeats: int) -> list[dict[str, Any]]:
    from edgeprompt.backends.base import GenerationParams
    from edgeprompt.errors import EdgepromptError
    from edgeprompt.pipeline import AskRequest, Done, run

    be = rt.backend(model, backend)
    rows = []
    params = GenerationParams(max_tokens=ANSWER_TOKENS, temperature=0.0)
    run(AskRequest("warm up", model=model, backend=backend, params=params, save=False), rt)
    for target in lengths:
        got = []
        for k in range(repeats + 1):  # the first run of each length warms up and is not counted
            q = _question(be, target, k)
            try:
                res = next(
                    ev.result
                    for ev in run(AskRequest(q, model=model, backend=backend, params=params, save=False), rt)
                    if isinstance(ev, Done)
                )
            except EdgepromptError as e:
                rows.append({"model": model, "backend": be.name, "target": target, "error": str(e)})
                break
            if k:
                got.append(res)
        if got:
            rows.append(
                {
                    "model": model,
                    "backend": be.name,
                    "target": target,
                    "prompt_tokens": int(statistics.median(r.usage["prompt_tokens"] for r in got)),
                    "ttft_ms": _median([r.timings["ttft_ms"] for r in got]),
                    "total_ms": _median([r.timings["total_ms"] for r in got]),
                }
            )
            info(f"  {model}/{be.name} {target}: {rows[-1]}")
    return rows


def sweep_page(rows: list[dict[str, Any]], repeats: int) -> str:
    from edgeprompt.observatory import svg

    lengths = sorted({r["target"] for r in rows if "ttft_ms" in r})
    series = []
    runs = sorted({(r["model"], r["backend"]) for r in rows if "ttft_ms" in r})
    for i, (m, b) in enumerate(runs):
        by = {r["target"]: r for r in rows if r["model"] == m and r["backend"] == b and "ttft_ms" in r}
        for key, what in (("total_ms", "answer"), ("ttft_ms", "first token")):
            series.append(
                svg.Series(
                    f"{m}/{b} {what}",
                    [by[t][key] if t in by else None for t in lengths],
                    svg.PALETTE[(2 * i + (key == "ttft_ms")) % len(svg.PALETTE)],
                )
            )
    chart = svg.lines(
        [str(t) for t in lengths],
        series,
        unit=" ms",
        width=900,
        height=380,
        log_y=True,
        label="latency against prompt length",
        x_title="prompt length (tokens)",
    )
    table = "".join(
        f"<tr><td>{r['model']}/{r['backend']}</td><td>{r['target']}</td><td>{r.get('prompt_tokens', '')}"
        f"</td><td>{r.get('ttft_ms', r.get('error', ''))}</td><td>{r.get('total_ms', '')}</td></tr>"
        for r in rows
    )
    return (
        "<!doctype html><meta charset=utf-8><title>prompt-length sweep</title><body style='font-family:"
        "system-ui;max-width:980px;margin:24px auto'><h1>Latency against prompt length</h1>"
        f"<p>Median of {repeats} requests per length through the whole pipeline (cache off), at most "
        f"{ANSWER_TOKENS} answer tokens; the time axis is logarithmic.</p>"
        f"{chart}<table border=1 cellpadding=4 style='border-collapse:collapse'><tr><th>model/backend</th>"
        f"<th>target</th><th>prompt tokens</th><th>first token ms</th><th>total ms</th></tr>{table}</table>"
    )


def bench_sweep(home: Path, lengths: list[int], repeats: int, out_dir: Path, with_tiny: bool) -> dict[str, Any]:
    from dataclasses import replace

    from edgeprompt.app import Runtime
    from edgeprompt.catalog.cards import ModelCard

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[cache]\nenabled = false\nprefix = false\n", encoding="utf-8")
    rows: list[dict[str, Any]] = []
    with Runtime.open(home) as rt:
        rt.catalog.add(
            ModelCard(
                id="echo-16k", backend="echo", context_length=16384, description="echo with a 16k window, for the sweep"
            ),
            overwrite=True,
        )
        rows += _sweep_one(rt, "echo-16k", None, lengths, repeats)
        if with_tiny:
            from edgeprompt.catalog.demo import build_model
            from edgeprompt.catalog.demo_train import TINY

            info("building the tiny model with an 8k+ context (once; about a minute)…")
            built = build_model(
                home / "models" / "tiny-8k", replace(TINY, context_length=max(lengths) + 512), model_id="tiny-8k"
            )
            rt.catalog.add(built.card, overwrite=True)
            for backend in ("mlx", "onnx"):
                rows += _sweep_one(rt, "tiny-8k", backend, lengths, repeats)
    (out_dir / "sweep.html").write_text(sweep_page(rows, repeats), encoding="utf-8")
    return {"rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="*", choices=["report", "drift", "sweep"], default=["report", "drift", "sweep"])
    ap.add_argument("--trials", type=int, default=200, help="windows per case in the drift benchmark")
    ap.add_argument("--sizes", default="100,200", help="questions per window in the drift benchmark")
    ap.add_argument("--traces", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lengths", default="256,512,1024,2048,4096,8192")
    ap.add_argument("--no-tiny", action="store_true", help="sweep only the echo backend")
    ap.add_argument("--out-dir", default=None, help="where the HTML pages go (default: a temp folder)")
    args = ap.parse_args()
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="bench-observatory-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
        "out_dir": str(out_dir),
    }
    with tempfile.TemporaryDirectory(prefix="edgeprompt-bench-obs-") as tmp:
        if "report" in args.what:
            info(f"report: writing {args.traces} traces…")
            result["report"] = bench_report(Path(tmp) / "report-home", args.traces, args.repeats, out_dir)
        if "drift" in args.what:
            info("drift: alarm rates…")
            sizes = [int(x) for x in args.sizes.split(",")]
            result["drift"] = bench_drift(Path(tmp) / "drift-home", args.trials, sizes)
        if "sweep" in args.what:
            info("sweep: prompt lengths…")
            result["sweep"] = bench_sweep(
                Path(tmp) / "sweep-home",
                [int(x) for x in args.lengths.split(",")],
                args.repeats,
                out_dir,
                not args.no_tiny,
            )
    result["machine"]["load_1m_after"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
