"""Running a version's test suite through a model, recording the run, and promotion gated on it.

A suite runs each case by rendering the version and streaming it through the model's backend directly
(not the chat pipeline), so test answers never enter sessions, traces or the stats of real use. What it
uses comes in as `SuiteParts`, which the composition root builds (`Runtime.suite_parts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import GenerationParams, Message, Request
from edgeprompt.canonical import canonical_json
from edgeprompt.errors import EdgepromptError, PromotionRefusedError
from edgeprompt.prompts.assertions import Answer, Checker, Embed, Scan

if TYPE_CHECKING:
    from edgeprompt.backends.base import Backend
    from edgeprompt.catalog.cards import ModelCard
    from edgeprompt.prompts.labels import Move
    from edgeprompt.prompts.store import PromptRegistry, Rendered, Version
    from edgeprompt.store.db import Database


@dataclass(frozen=True)
class SuiteParts:
    """What running a suite uses of the app, given explicitly (the composition root builds it)."""

    db: Database  # prompt_test_runs, and the audit log of a forced promotion
    card: Callable[[str | None], ModelCard]  # a model id (None: the default) -> its card; unknown: one-line error
    backend: Callable[[str], Backend]  # a model id -> its loaded backend
    embed: Embed  # MiniLM for 'similar'; loads on first use
    scan: Scan  # the firewall's scan for 'firewall-clean'; builds on first use
    params: GenerationParams  # from [generation]: the base a version's own generation settings override

    def checker(self, output_schema: dict[str, Any] | None) -> Checker:
        return Checker(self.embed, self.scan, output_schema)


@dataclass(frozen=True)
class CaseResult:
    index: int
    name: str
    passed: bool
    answer: str
    failures: tuple[str, ...]


@dataclass(frozen=True)
class SuiteResult:
    name: str
    version: str
    seq: int
    model: str
    cases: tuple[CaseResult, ...]

    @property
    def failed(self) -> int:
        return sum(not c.passed for c in self.cases)

    @property
    def passed(self) -> bool:
        """An empty suite proves nothing, so it does not pass."""
        return bool(self.cases) and self.failed == 0

    def why(self) -> str:
        if not self.cases:
            return f"{self.name}@{self.seq} has no tests"
        first = next(c for c in self.cases if not c.passed)
        return (
            f"{self.name}@{self.seq} failed {self.failed} of {len(self.cases)} tests on {self.model}; "
            f"test {first.index}: {first.failures[0]}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "seq": self.seq,
            "model": self.model,
            "passed": self.passed,
            "total": len(self.cases),
            "failed": self.failed,
            "cases": [asdict(c) for c in self.cases],
        }


def _generate(backend: Backend, r: Rendered, base: GenerationParams) -> Answer:
    messages = ((Message("system", r.system),) if r.system else ()) + (Message("user", r.user),)
    pieces: list[str] = []
    tokens = 0
    for chunk in backend.stream(Request(messages, r.generation(base))):
        pieces.append(chunk.text)
        if chunk.stats is not None:
            tokens = chunk.stats.completion_tokens
    return Answer("".join(pieces), tokens)


def run_suite(parts: SuiteParts, registry: PromptRegistry, version: Version, model: str | None = None) -> SuiteResult:
    """Run every case; a case that cannot render fails with the reason (the others still run)."""
    card = parts.card(model)
    backend = parts.backend(card.id)
    checker = parts.checker(version.spec.output_schema)
    base = parts.params
    results = []
    for i, case in enumerate(version.spec.tests, 1):
        try:
            answer = _generate(backend, registry.render_version(version, case.vars), base)
        except EdgepromptError as e:
            results.append(CaseResult(i, case.name, False, "", (str(e),)))
            continue
        failures = tuple(f for a in case.asserts if (f := checker.check(a, answer)) is not None)
        results.append(CaseResult(i, case.name, not failures, answer.text, failures))
    suite = SuiteResult(version.name, version.id, version.seq, card.id, tuple(results))
    with parts.db.transaction() as c:
        c.execute(
            "INSERT INTO prompt_test_runs(version_id, model, passed, total, failed, results, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                version.id,
                card.id,
                int(suite.passed),
                len(results),
                suite.failed,
                canonical_json(suite.as_dict()["cases"]).decode(),
                time.time(),
            ),
        )
    return suite


def passed_before(db: Database, version_id: str, model: str) -> bool:
    """Whether the latest recorded run of this version on this model passed."""
    row = db.query_one(
        "SELECT passed FROM prompt_test_runs WHERE version_id = ? AND model = ? ORDER BY id DESC LIMIT 1",
        (version_id, model),
    )
    return bool(row and row[0])


@dataclass(frozen=True)
class Promotion:
    move: Move
    seq: int
    model: str
    tested: bool  # the suite ran now (False: it had already passed on this model)
    passed: bool
    suite: SuiteResult | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.move.name,
            "label": self.move.label,
            "version": self.move.to_version,
            "seq": self.seq,
            "from_version": self.move.from_version,
            "changed": self.move.changed,
            "model": self.model,
            "tested": self.tested,
            "passed": self.passed,
            "forced": self.move.forced,
            "suite": self.suite.as_dict() if self.suite else None,
        }


def promote(
    parts: SuiteParts,
    registry: PromptRegistry,
    name: str,
    token: str,
    label: str,
    model: str | None = None,
    force: bool = False,
    confirmed: bool = False,
) -> Promotion:
    """Move `label` to a version whose suite passed on `model` (running it first unless it already has).

    `force` promotes a failing version anyway and appends the bypass to the hash-chained audit log in
    the same transaction as the move.
    """
    from edgeprompt.store.audit import AuditLog

    version = registry.resolve(name, token)
    model_id = parts.card(model).id
    suite = None if passed_before(parts.db, version.id, model_id) else run_suite(parts, registry, version, model_id)
    passed = suite is None or suite.passed
    if not passed and not force:
        raise PromotionRefusedError(suite.why() if suite else "")
    with parts.db.transaction():
        move = registry.labels.move(name, label, version.id, "promote", confirmed=confirmed, forced=not passed)
        if force:
            AuditLog(parts.db).append(
                "prompt.promote.force",
                {
                    "name": name,
                    "version": version.id,
                    "seq": version.seq,
                    "label": label,
                    "model": model_id,
                    "from_version": move.from_version,
                    "suite_passed": passed,
                    "reason": "" if passed or suite is None else suite.why(),
                },
            )
    return Promotion(move, version.seq, model_id, suite is not None, passed, suite)
