"""Evaluation runs: a golden set of questions run through the whole assistant, checked, stored, compared.

A suite is a YAML file:

    name: support-golden
    model: demo                 # optional; `eval run -m` wins
    prompt: assistant:staging   # optional registry prompt NAME:LABEL / NAME@VERSION; `--prompt` wins
    judge: demo                 # optional model that judges rubrics (default: the answering model)
    cases:
      - id: capital
        input: What is the capital of France?
        assert:                 # the prompt registry's assertion types and rules
          - {type: contains, value: Paris}
          - {type: max-tokens, value: 64}
        rubric: Names Paris as the capital and nothing else.

Each case goes through `pipeline.run` (retrieval, firewall, cache and routing included: what a user
would get) with `save=False`; its trace id is kept with the result, and the observatory report leaves
eval traces out of real-use metrics. Assertions are checked by the registry's `Checker`. A rubric is
judged by a local model asked for PASS or FAIL; any other reply counts as a failed check ("unclear").
The assistant (`ask`: a request -> its pipeline events) and the models, MiniLM and the firewall (the prompt
registry's `SuiteParts`) come in from the composition root; nothing here opens them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import EdgepromptError, UsageError

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.pipeline.components import Ask
    from edgeprompt.prompts.assertions import Checker
    from edgeprompt.prompts.spec import Assertion
    from edgeprompt.prompts.store import PromptRegistry
    from edgeprompt.prompts.suite import SuiteParts

MAX_SUITE_BYTES = 4 << 20
SUITE_KEYS = frozenset(("name", "description", "model", "prompt", "judge", "cases"))
CASE_KEYS = frozenset(("id", "input", "assert", "rubric"))
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
JUDGE_SYSTEM = (
    "You grade an assistant's answer against a rubric. Reply with exactly one word: PASS if the "
    "answer meets the rubric, FAIL if it does not."
)
_VERDICT = re.compile(r"^\W*(pass|fail)\b", re.I)


@dataclass(frozen=True)
class EvalCase:
    id: str
    input: str
    asserts: tuple[Assertion, ...]
    rubric: str | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    sha256: str
    cases: tuple[EvalCase, ...]
    model: str | None = None
    prompt: str | None = None
    judge: str | None = None


@dataclass(frozen=True)
class EvalCheck:
    type: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class CaseOutcome:
    case_id: str
    passed: bool
    score: float  # share of checks that held
    output: str
    checks: tuple[EvalCheck, ...]
    latency_ms: float | None
    output_tokens: int | None
    trace_id: str | None
    error: str | None = None


def _str(where: str, key: str, value: Any, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: '{key}' must be a non-empty string")
    return value


def _case(where: str, i: int, raw: Any, seen: set[str]) -> EvalCase:
    from edgeprompt.prompts.spec import _assertion  # the registry's validation rules, one set of them

    at = f"{where}: case {i}"
    if not isinstance(raw, dict):
        raise UsageError(f"{at} must be a mapping with input and assert")
    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise UsageError(f"{at} has unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(CASE_KEYS))})")
    cid = str(raw.get("id", f"case-{i}"))
    if not ID_RE.match(cid):
        raise UsageError(f"{at}: id {cid!r} must be letters, digits, '_', '.', ':' or '-'")
    if cid in seen:
        raise UsageError(f"{at}: id '{cid}' is used twice")
    seen.add(cid)
    text = _str(at, "input", raw.get("input"), required=True) or ""
    asserts = raw.get("assert") or []
    rubric = _str(at, "rubric", raw.get("rubric"))
    if not isinstance(asserts, list) or (not asserts and rubric is None):
        raise UsageError(f"{at}: 'assert' must be a list, and a case needs an assertion or a rubric")
    return EvalCase(cid, text, tuple(_assertion(f"{at} ({cid})", a) for a in asserts), rubric)


def load_suite(path: Path) -> Suite:
    from edgeprompt.prompts.files import parse_yaml

    try:
        if path.stat().st_size > MAX_SUITE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_SUITE_BYTES >> 20} MiB; is this an eval suite?")
        data = path.read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    where = str(path)
    doc = parse_yaml(text, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list) or not doc["cases"]:
        raise UsageError(f"{where}: an eval suite is a mapping with a non-empty 'cases' list")
    unknown = set(doc) - SUITE_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(SUITE_KEYS))})")
    seen: set[str] = set()
    cases = tuple(_case(where, i, c, seen) for i, c in enumerate(doc["cases"], 1))
    return Suite(
        _str(where, "name", doc.get("name")) or path.stem,
        str(path.resolve()),
        hashlib.sha256(data).hexdigest(),
        cases,
        _str(where, "model", doc.get("model")),
        _str(where, "prompt", doc.get("prompt")),
        _str(where, "judge", doc.get("judge")),
    )


def judge(backend: Backend, model: str, question: str, answer: str, rubric: str) -> EvalCheck:
    """Ask a local model (`backend`, loaded for the id `model`) whether the answer meets the rubric."""
    from edgeprompt.backends.base import GenerationParams, Message, Request

    user = f"Rubric: {rubric}\n\nQuestion: {question}\n\nAnswer: {answer}\n\nVerdict (PASS or FAIL):"
    req = Request((Message("system", JUDGE_SYSTEM), Message("user", user)), GenerationParams(8, 0.0, 1.0, 0))
    reply = "".join(c.text for c in backend.stream(req)).strip()
    m = _VERDICT.match(reply)
    if m is None:
        return EvalCheck("rubric", False, f"unclear: the judge ({model}) replied {reply[:60]!r}, not PASS or FAIL")
    ok = m.group(1).lower() == "pass"
    return EvalCheck("rubric", ok, "" if ok else f"the judge ({model}) says FAIL")


def run_case(
    ask: Ask,
    checker: Checker,
    backend: Callable[[str], Backend],
    case: EvalCase,
    model: str,
    prompt: str | None,
    judge_model: str,
) -> CaseOutcome:
    from edgeprompt.pipeline import AskRequest, Done
    from edgeprompt.prompts.assertions import Answer

    try:
        result = next(
            ev.result
            for ev in ask(AskRequest(case.input, model=model, prompt=prompt, save=False))
            if isinstance(ev, Done)
        )
    except EdgepromptError as e:
        return CaseOutcome(case.id, False, 0.0, "", (), None, None, None, str(e))
    answer = Answer(result.answer, int(result.usage.get("completion_tokens", 0)))
    checks: list[EvalCheck] = []
    for a in case.asserts:
        try:
            why = checker.check(a, answer)
        except EdgepromptError as e:
            why = str(e)
        checks.append(EvalCheck(a.type, why is None, why or ""))
    if case.rubric is not None:
        checks.append(judge(backend(judge_model), judge_model, case.input, result.answer, case.rubric))
    passed = sum(c.passed for c in checks)
    return CaseOutcome(
        case.id,
        passed == len(checks),
        round(passed / len(checks), 4),
        result.answer,
        tuple(checks),
        result.timings.get("total_ms"),
        answer.tokens,
        result.trace_id,
    )


def run_suite(
    parts: SuiteParts,
    registry: PromptRegistry,
    ask: Ask,
    suite: Suite,
    model: str | None = None,
    prompt: str | None = None,
    progress: Callable[[CaseOutcome, int, int], None] | None = None,
) -> str:
    """Run every case through `ask`, storing each result as it comes; returns the run id."""
    from edgeprompt.observatory.evalstore import EvalStore

    model_id = parts.card(model or suite.model).id  # unknown model: one-line error before anything is stored
    prompt = prompt or suite.prompt
    if prompt is not None:
        registry.for_request(prompt, None, {"question": "?"})  # unknown prompt or label: the same
    judge_model = parts.card(suite.judge or model_id).id
    checker = parts.checker(None)  # eval cases have no output schema of their own
    store = EvalStore(parts.db)
    run_id = store.create(suite, model_id, prompt, judge_model)
    done = False
    try:
        for i, case in enumerate(suite.cases, 1):
            outcome = run_case(ask, checker, parts.backend, case, model_id, prompt, judge_model)
            store.add(run_id, i, outcome)
            if progress is not None:
                progress(outcome, i, len(suite.cases))
        done = True
    finally:
        store.finish(run_id, "done" if done else "interrupted")
    return run_id
