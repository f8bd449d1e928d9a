"""Plans with a scripted backend: decomposition (rules and model), steps, limits, timeout, cancel, output file,
one trace with a span per step; and the `plan` command."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from routing_helpers import ScriptedBackend, blocking_event_after

from edgeprompt.backends.base import GenerationParams
from edgeprompt.errors import UsageError
from edgeprompt.orchestrate.builtin_tools import calculator_tool, search_tool
from edgeprompt.orchestrate.plan_runner import PlanRunner
from edgeprompt.orchestrate.plans import model_plan, rule_plan, topic_of
from edgeprompt.orchestrate.tools import ToolBox
from edgeprompt.routing.router import RouteDecision
from edgeprompt.store.traces import Trace

TASK = "prepare a summary report of my 2025 project meetings"
HITS = [
    {"n": 1, "path": "/docs/kickoff.md", "location": "Decisions", "text": "Atlas beta ships in May.", "relevance": 0.7},
    {"n": 2, "path": "/docs/review.md", "location": "", "text": "Budget moved to Dana.", "relevance": 0.6},
]


def test_rule_plan_for_the_issue_example() -> None:
    plan = rule_plan(TASK)
    assert [s.action for s in plan.steps] == ["retrieve", "analyse", "draft", "format"]
    assert plan.steps[0].tool == "search_documents" and plan.steps[0].arguments["query"] == "my 2025 project meetings"
    assert [s.n for s in plan.steps] == [1, 2, 3, 4] and plan.method == "rules"
    assert topic_of("Please write an email about the offsite") == "the offsite"


def test_rule_plan_tools_and_limits() -> None:
    plan = rule_plan("write a memo on costs: 1200 * 1.2 + 300 and 40 / 8, meeting on 2025-03-14")
    calcs = [s.arguments["expression"] for s in plan.steps if s.tool == "calculator"]
    assert calcs == ["1200 * 1.2 + 300", "40 / 8"]
    short = rule_plan(TASK, max_steps=2)
    assert [s.action for s in short.steps] == ["retrieve", "format"] and "kept 2" in short.notes[0]
    assert [s.tool for s in rule_plan("/calc 2+2").steps][:1] == ["calculator"]


def test_model_plan_is_validated_and_falls_back_to_rules() -> None:
    reply = json.dumps(
        [
            {"action": "retrieve", "instruction": "find the meeting notes"},
            {"action": "tool", "instruction": "add hours", "tool": "calculator", "arguments": {"expression": "3+4"}},
            {"action": "draft", "instruction": "write it"},
        ]
    )
    plan = model_plan(TASK, lambda s, u: "Here is the plan:\n" + reply, ["calculator", "search_documents"], "")
    assert plan.method == "model" and [s.action for s in plan.steps] == ["retrieve", "tool", "draft", "format"]
    assert plan.steps[0].arguments == {"query": "my 2025 project meetings", "k": 8}
    for bad in (
        "no json here",
        '[{"action": "dance", "instruction": "x"}]',
        '[{"action": "tool", "instruction": "x", "tool": "rm_rf"}]',
    ):
        plan = model_plan(TASK, lambda s, u, b=bad: b, ["calculator"], "")
        assert plan.method == "rules" and "not usable" in plan.notes[0]

    def too_long(system: str, user: str) -> str:
        raise UsageError("the prompt has 3000 tokens; the model's context is 2048")

    plan = model_plan(TASK, too_long, [], "")
    assert plan.method == "rules" and "could not plan" in plan.notes[0]


def _runner(
    backend: ScriptedBackend, traces: list[Trace], progress: list[str] | None = None, search: Any = None
) -> PlanRunner:
    box = ToolBox([calculator_tool(), search_tool(search or (lambda q, k: HITS[:k]))])

    def route(text: str) -> RouteDecision:
        return RouteDecision("documents", backend.model_id, {"documents": 0.9}, (), "scripted", text)

    return PlanRunner(
        box,
        lambda model_id: backend,
        route,
        GenerationParams(max_tokens=64),
        progress=(progress if progress is not None else []).append,
        save_trace=traces.append,
    )


def test_plan_runs_every_step_traces_it_and_writes_markdown(tmp_path: Path) -> None:
    backend = ScriptedBackend(
        [
            "- Atlas beta ships in May [1]\n- Budget moved to Dana [2]",
            "In 2025 the project decided to ship the beta in May.",
        ]
    )
    traces: list[Trace] = []
    progress: list[str] = []
    result = _runner(backend, traces, progress).run(rule_plan(TASK), out=tmp_path / "out" / "report.md")
    assert result.status == "ok" and [s.status for s in result.steps] == ["ok"] * 4
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.startswith("# Prepare a summary report of my 2025 project meetings")
    assert "ship the beta in May" in md and "## Analysis" in md and "1. /docs/kickoff.md (Decisions)" in md
    assert "| 1 | retrieve:" in md and result.out == str((tmp_path / "out" / "report.md").resolve())
    analyse = backend.requests[0]
    assert "[step 1] search_documents" in analyse.messages[0].content
    assert "Atlas beta ships in May." in analyse.messages[0].content
    assert analyse.messages[-1].content.startswith(f"Task: {TASK}\nThis step: List the key facts")
    assert [(d.n, d.path) for d in analyse.documents] == [(1, "/docs/kickoff.md"), (2, "/docs/review.md")]
    assert "[step 2] analysis" in backend.requests[1].messages[0].content
    (trace,) = traces
    assert trace.operation == "plan" and trace.id == result.trace_id
    assert [s.name for s in trace.spans] == ["plan.step"] * 4
    assert [s.attributes["edgeprompt.plan.action"] for s in trace.spans] == ["retrieve", "analyse", "draft", "format"]
    assert trace.spans[1].attributes["edgeprompt.route.tag"] == "documents"
    assert progress[0].startswith("[1/4] retrieve:") and progress[-1].startswith("[4/4] format ok")


def test_a_failing_tool_step_does_not_stop_the_plan(tmp_path: Path) -> None:
    def no_docs(q: str, k: int) -> list[dict[str, Any]]:
        from edgeprompt.errors import ToolError

        raise ToolError("search_documents: there are no documents yet")

    result = _runner(ScriptedBackend(["analysis", "draft"]), [], search=no_docs).run(rule_plan(TASK))
    assert [s.status for s in result.steps] == ["error", "ok", "ok", "ok"] and result.status == "ok"
    assert "no documents yet" in result.steps[0].output and result.out is None


def test_cancel_keeps_what_was_done(tmp_path: Path) -> None:
    cancel = threading.Event()
    backend = ScriptedBackend(["the analysis " * 20, "never"], on_token=blocking_event_after(3, cancel))
    traces: list[Trace] = []
    result = _runner(backend, traces).run(rule_plan(TASK), cancel=cancel, out=tmp_path / "r.md")
    assert result.status == "cancelled"
    assert [s.status for s in result.steps] == ["ok", "cancelled", "skipped", "skipped"]
    md = (tmp_path / "r.md").read_text()
    assert "stopped early (cancelled) after 1 of 4 steps" in md and "kickoff.md" in md
    assert traces[0].status == "cancelled" and len(traces[0].spans) == 2


def test_ctrl_c_inside_a_step_is_a_cancel(tmp_path: Path) -> None:
    def interrupt(i: int) -> None:
        raise KeyboardInterrupt

    result = _runner(ScriptedBackend(["x y z"], on_token=interrupt), []).run(rule_plan(TASK), out=tmp_path / "r.md")
    assert result.status == "cancelled" and result.steps[1].status == "cancelled" and (tmp_path / "r.md").exists()


def test_timeout_stops_the_plan(tmp_path: Path) -> None:
    slow = threading.Event()

    def wait(i: int) -> None:  # each token waits until the time limit has passed
        slow.wait(0.05)

    backend = ScriptedBackend(["word " * 400], on_token=wait)
    result = _runner(backend, []).run(rule_plan(TASK), timeout_s=0.2, out=tmp_path / "r.md")
    assert result.status == "timeout" and result.steps[1].status == "cancelled"
    assert "stopped early (timeout)" in (tmp_path / "r.md").read_text()


def test_material_is_shortened_to_fit_a_small_window() -> None:
    long_hits = [{**HITS[0], "text": "word " * 3000}]
    backend = ScriptedBackend(["a", "b"], context_length=600)
    result = _runner(backend, [], search=lambda q, k: long_hits).run(rule_plan(TASK))
    assert result.status == "ok"
    assert all(backend.count_tokens(r.messages) <= 600 for r in backend.requests)
    assert "[shortened]" in backend.requests[0].messages[0].content


def test_plan_command_with_the_echo_model(linked_home: Path, cli: Any) -> None:
    out_file = linked_home / "report.md"
    code, out, err = cli(
        "plan", "write a memo about costs of 1200 * 1.2 + 300", "-m", "echo", "--out", str(out_file), "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and res["method"] == "rules" and res["out"] == str(out_file.resolve())
    assert [s["action"] for s in res["steps"]] == ["tool", "analyse", "draft", "format"]
    assert res["steps"][0]["tool_result"]["output"]["value"] == 1740
    assert "[1/4] tool:" in err and "1200 * 1.2 + 300 = 1740" in out_file.read_text()
    from edgeprompt.app import Runtime

    with Runtime.open(linked_home) as rt:
        trace = rt.traces.get(res["trace_id"])
        assert trace["operation"] == "plan" and len(trace["spans"]) == 4


def test_plan_command_dry_run_and_bad_input(linked_home: Path, cli: Any) -> None:
    code, out, _ = cli("plan", TASK, "--dry-run", "--json")
    assert code == 0 and json.loads(out)["steps"][0]["tool"] == "search_documents"
    for argv, msg in (
        (["   "], "empty"),
        ([TASK, "--max-steps", "1"], "at least 2"),
        ([TASK, "--timeout", "0"], "positive"),
        ([TASK, "--out", str(linked_home)], "folder"),
    ):
        code, out, err = cli("plan", *argv)
        assert code == 2 and msg in err and out == ""


def test_plan_over_your_documents_with_the_extractive_model(linked_home: Path, cli: Any, tmp_path: Path) -> None:
    """The fallback without any language model: retrieval, then the extractive model quotes with citations."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "kickoff.md").write_text(
        "# Atlas kickoff, 2025-01-14\n\nWe decided to ship the Atlas beta in May. Dana owns the budget.\n"
    )
    (notes / "review.md").write_text(
        "# Atlas review, 2025-06-02\n\nThe beta shipped on May 28. The next "
        "milestone is the public launch in October.\n"
    )
    assert cli("docs", "add", str(notes))[0] == 0
    code, out, err = cli("plan", "prepare a summary report of my 2025 project meetings about Atlas", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and [s["status"] for s in res["steps"]] == ["ok", "ok", "skipped", "ok"]
    assert res["steps"][1]["route"] == "documents" and res["steps"][1]["model"] is None  # the passage digest
    md = Path(res["out"]).read_text()
    assert "- We decided to ship the Atlas beta in May. [1]" in md and "1. " + str(notes / "kickoff.md") in md
    assert "cannot write one" in md
    assert Path(res["out"]).parent == linked_home / "plans"


def test_a_models_analysis_from_documents_is_checked_against_them(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.rag.support import MARK, check

    backend = ScriptedBackend(
        ["- Atlas beta ships in May [1]\n- The budget doubled to 5 million euros [2]", "The beta ships in May."]
    )
    runner = _runner(backend, [])
    runner.support = lambda topic, text, docs: check(topic, text, docs, embedder.embed_batch)
    result = runner.run(rule_plan(TASK))
    analysis = result.steps[1].output
    assert analysis == f"- Atlas beta ships in May [1]\n- The budget doubled to 5 million euros [2] {MARK}"
    assert any(n.startswith("step 2: 1 sentence") for n in result.notices)
    assert f"[2] {MARK}" in backend.requests[1].messages[0].content  # the draft sees the marked analysis
