"""The firewall's four pipeline stages as small functions, so `pipeline.run` stays a plain read.

check_input (stage 1 on the question) → isolate_prompt (stage 1 on every retrieved passage, then
stage 2) → output_guard / finish_output (stage 3 on the streamed answer). Each decision is audited
(stage 4). Each takes the firewall, or None when `[firewall] enabled = false`: then it passes its input
through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeprompt.backends.base import Document, Message
from edgeprompt.firewall.engine import BLOCKED_ANSWER
from edgeprompt.firewall.isolation import Isolated, SourceDoc
from edgeprompt.firewall.output import SAFE_MESSAGE, OutputResult
from edgeprompt.firewall.scanner import Verdict
from edgeprompt.firewall.stream import PassThrough, StreamGuard
from edgeprompt.firewall.verdicts import StageVerdict

if TYPE_CHECKING:
    from edgeprompt.firewall.engine import Firewall


@dataclass(frozen=True)
class InputCheck:
    blocked: bool = False
    notice: str | None = None
    answer: str = ""  # the safe answer when blocked
    verdict: Verdict | None = None  # None: the firewall is off
    audit_id: int | None = None

    @property
    def verdicts(self) -> list[StageVerdict]:
        return [] if self.verdict is None else [StageVerdict("input", self.verdict, self.audit_id)]

    @property
    def passed(self) -> bool:
        """No verdict of this stage blocked or flagged: only then may the answer be cached."""
        return all(v.allowed for v in self.verdicts)

    def trace_attributes(self) -> dict[str, Any]:
        if self.verdict is None:
            return {"edgeprompt.firewall.enabled": False}
        return {
            **StageVerdict("input", self.verdict, self.audit_id).trace_attributes(),
            "edgeprompt.firewall.input.rules": self.verdict.matched_rules,
            "edgeprompt.firewall.audit_id": self.audit_id,
        }


def check_input(fw: Firewall | None, question: str, trace_id: str) -> InputCheck:
    if fw is None:
        return InputCheck()
    v, audit_id = fw.inspect_input(question, trace_id)
    if v.decision == "block":
        return InputCheck(
            True,
            f"the prompt firewall blocked this question (score {v.score:.2f}: "
            f"{', '.join(v.categories) or 'injection'})",
            BLOCKED_ANSWER.format(ref=audit_id),
            v,
            audit_id,
        )
    if v.decision == "flag":
        return InputCheck(
            False,
            f"the prompt firewall flagged this question as a possible prompt injection "
            f"(score {v.score:.2f}); answering with the usual safeguards",
            "",
            v,
            audit_id,
        )
    return InputCheck(False, None, "", v, audit_id)


@dataclass(frozen=True)
class PromptParts:
    system: list[Message]
    history: list[Message]
    user: Message
    documents: tuple[Document, ...]
    canary: str | None = None
    system_text: str | None = None
    verdicts: list[StageVerdict] = field(default_factory=list)  # one per retrieved passage
    notices: list[str] = field(default_factory=list)
    isolated: Isolated | None = None  # None: the firewall is off
    scanned: int = 0  # retrieved passages scanned (`documents` holds the ones kept)

    def trace_attributes(self) -> dict[str, Any]:
        if self.isolated is None:
            return {}
        return {
            **self.isolated.trace_attributes(),
            "edgeprompt.firewall.documents.scanned": self.scanned,
            "edgeprompt.firewall.documents.flagged": sum(not v.allowed for v in self.verdicts),
            "edgeprompt.firewall.documents.left_out": self.scanned - len(self.documents),
        }


def isolate_prompt(
    fw: Firewall | None,
    system: list[Message],
    system_text: str,
    documents: Sequence[Document],
    history: list[Message],
    user: Message,
    trace_id: str,
) -> PromptParts:
    """Scan the retrieved passages, then put system text, passages, history and question in isolated parts."""
    if fw is None:
        return PromptParts(system, history, user, tuple(documents))
    from edgeprompt.rag.prompting import INSTRUCTIONS, source_label

    screened = fw.screen([SourceDoc(d.n, source_label(d), d.text) for d in documents], trace_id)
    kept_n = {d.n for d in screened.documents}
    iso = fw.isolate(system_text, screened.documents, history, user.content, INSTRUCTIONS if documents else "")
    return PromptParts(
        [iso.system],
        iso.history,
        iso.user,
        tuple(d for d in documents if d.n in kept_n),
        iso.canary,
        system_text,
        screened.verdicts,
        screened.notices,
        iso,
        len(documents),
    )


def output_guard(
    fw: Firewall | None, parts: PromptParts, schema: dict[str, Any] | None = None
) -> StreamGuard | PassThrough:
    """Stage 3's streaming guard; with `schema` (an API client's response_format) the answer must satisfy it."""
    if fw is None:
        return PassThrough()
    context = [parts.user.content, *(m.content for m in parts.history), *(d.text for d in parts.documents)]
    return fw.output_guard(parts.canary, parts.system_text or None, schema, context)


@dataclass(frozen=True)
class OutputCheck:
    tail: str  # held-back text still to show
    answer: str  # the answer as shown (redacted), or the safe message when blocked
    notice: str | None = None
    result: OutputResult | None = None  # None: the firewall is off
    audit_id: int | None = None

    @property
    def verdicts(self) -> list[StageVerdict]:
        return [] if self.result is None else [StageVerdict("output", self.result, self.audit_id)]

    @property
    def passed(self) -> bool:
        """No verdict of this stage blocked or flagged: only then may the answer be cached."""
        return all(v.allowed for v in self.verdicts)

    def trace_attributes(self) -> dict[str, Any]:
        if self.result is None:
            return {}
        return {
            **StageVerdict("output", self.result, self.audit_id).trace_attributes(),
            "edgeprompt.firewall.output.findings": len(self.result.findings),
        }


def finish_output(fw: Firewall | None, guard: StreamGuard | PassThrough, trace_id: str) -> OutputCheck:
    tail = guard.finish()
    if fw is None or isinstance(guard, PassThrough):
        return OutputCheck(tail, guard.text)
    r = guard.result()
    audit_id = fw.record("output", StageVerdict("output", r).record(), guard.raw, trace_id)
    if r.decision == "block":
        return OutputCheck(
            tail,
            SAFE_MESSAGE,
            "the answer was withheld: it would have disclosed " + ", ".join(r.categories),
            r,
            audit_id,
        )
    notice = f"redacted from the answer: {', '.join(r.categories)}" if r.decision == "flag" else None
    return OutputCheck(tail, r.redacted_text, notice, r, audit_id)
