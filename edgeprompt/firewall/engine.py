"""The firewall as one part (the composition root builds it): the stage-1 scanner, stage-2 isolation, stage-3
output validation, and the audit record of every decision, configured from `[firewall]`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edgeprompt.canonical import sha256_hex
from edgeprompt.errors import ConfigError
from edgeprompt.firewall.isolation import Isolated, SourceDoc, isolate
from edgeprompt.firewall.output import OutputResult, OutputValidator, policy_from_settings, redact
from edgeprompt.firewall.pii import detect
from edgeprompt.firewall.scanner import Scanner, Verdict
from edgeprompt.firewall.stream import StreamGuard
from edgeprompt.firewall.verdicts import StageVerdict
from edgeprompt.store.audit import AuditLog

AUDIT_TEXT_CHARS = 2000
BLOCKED_ANSWER = (
    "I can't help with that request: the prompt firewall blocked it as a likely prompt-injection "
    "attempt. If this is a mistake, rephrase it, or mark it with `edgeprompt firewall feedback "
    "{ref} --benign`."
)


@dataclass(frozen=True)
class Screened:
    """Retrieved passages after the per-chunk scan: what goes into the prompt, and what was said."""

    documents: list[SourceDoc]
    verdicts: list[StageVerdict]
    notices: list[str]


class Firewall:
    def __init__(self, section: Mapping[str, Any], scanner: Scanner, audit: AuditLog | None) -> None:
        self.section = section
        self.scanner = scanner
        self.audit = audit
        self.policy = policy_from_settings(section)
        if section["flagged_chunks"] not in ("exclude", "isolate"):
            raise ConfigError("[firewall] flagged_chunks must be exclude or isolate")
        if section["audit_content"] not in ("redacted", "hash"):
            raise ConfigError("[firewall] audit_content must be redacted or hash")

    @property
    def enabled(self) -> bool:
        return bool(self.section["enabled"])

    # -- stage 1 ------------------------------------------------------------------------------------
    def scan(self, text: str, context: str = "user") -> Verdict:
        """The seam: score one text without recording it (orchestration and tools call this)."""
        return self.scanner.scan(text, context)

    def inspect_input(self, text: str, trace_id: str | None = None) -> tuple[Verdict, int | None]:
        """Scan the user's turn and audit the decision; returns (verdict, audit entry)."""
        v = self.scanner.scan(text, "user")
        return v, self.record("input", v.as_dict(), text, trace_id)

    def scan_chunk(self, text: str) -> Verdict:
        """Scan a document chunk at ingestion; a flag or block is audited (allowed chunks only if configured)."""
        v = self.scanner.scan(text, "document")
        if v.decision != "allow" or self.section["audit_allowed_chunks"]:
            self.record("ingest", v.as_dict(), text, None)
        return v

    def screen(self, documents: Sequence[SourceDoc], trace_id: str | None = None) -> Screened:
        """Scan every retrieved passage again (the rule pack may be newer than the index)."""
        kept: list[SourceDoc] = []
        scanned: list[tuple[SourceDoc, Verdict, bool]] = []  # (passage, verdict, audited)
        notices: list[str] = []
        for d in documents:
            v = self.scanner.scan(d.text, "document")
            flagged = d.flagged or v.decision != "allow"
            scanned.append((d, v, v.decision != "allow" or bool(self.section["audit_allowed_chunks"])))
            if not flagged:
                kept.append(d)
            elif self.section["flagged_chunks"] == "isolate" and v.decision != "block":
                kept.append(SourceDoc(d.n, d.label, d.text, True, v))
                notices.append(
                    f"source [{d.n}] was flagged by the firewall (possible injected instruction); "
                    "it was kept as marked data only"
                )
            else:
                notices.append(
                    f"source [{d.n}] was left out: the firewall flagged it as a possible injected instruction"
                )
        audit = [("document", v.as_dict(), d.text, trace_id) for d, v, audited in scanned if audited]
        ids = iter(self.record_many(audit))
        # an audited passage's verdict names its entry (none when there is no audit log)
        verdicts = [StageVerdict("document", v, next(ids, None) if audited else None, d.n) for d, v, audited in scanned]
        return Screened(kept, verdicts, notices)

    # -- stage 2 ------------------------------------------------------------------------------------
    def isolate(
        self,
        system_text: str,
        documents: Sequence[SourceDoc],
        history: Sequence[Any],
        user_text: str,
        preamble: str = "",
    ) -> Isolated:
        return isolate(system_text, documents, history, user_text, preamble)

    # -- stage 3 ------------------------------------------------------------------------------------
    def validator(
        self,
        canary: str | None = None,
        system_text: str | None = None,
        schema: dict[str, Any] | None = None,
        context: Sequence[str] = (),
    ) -> OutputValidator:
        return OutputValidator(self.policy, canary, system_text, schema, context)

    def output_guard(
        self,
        canary: str | None = None,
        system_text: str | None = None,
        schema: dict[str, Any] | None = None,
        context: Sequence[str] = (),
    ) -> StreamGuard:
        """Stage 3 over a streamed answer; `context` (the conversation and the documents) is what a link in
        the answer must not carry out."""
        return StreamGuard(self.validator(canary, system_text, schema, context), int(self.section["stream_holdback"]))

    def check_output(
        self, text: str, canary: str | None = None, system_text: str | None = None, schema: dict[str, Any] | None = None
    ) -> OutputResult:
        return self.validator(canary, system_text, schema).check(text)

    # -- audit --------------------------------------------------------------------------------------
    def audit_data(self, stage: str, verdict: dict[str, Any], text: str, trace_id: str | None) -> dict[str, Any]:
        """What the audit log keeps: the decision, a hash of the text, and the text only with PII redacted."""
        data = {
            "stage": stage,
            "decision": verdict["decision"],
            "score": verdict.get("score", 0.0),
            "categories": verdict.get("categories", []),
            "matched_rules": verdict.get("matched_rules", []),
            "trace_id": trace_id,
            "text_sha256": sha256_hex(text),
            "text_chars": len(text),
        }
        if self.section["audit_content"] == "redacted":
            clip = text[:AUDIT_TEXT_CHARS]
            data["text_redacted"] = redact(clip, detect(clip))
        return data

    def record(self, stage: str, verdict: dict[str, Any], text: str, trace_id: str | None) -> int | None:
        ids = self.record_many([(stage, verdict, text, trace_id)])
        return ids[0] if ids else None

    def record_many(self, items: list[tuple[str, dict[str, Any], str, str | None]]) -> list[int]:
        if self.audit is None or not items:
            return []
        entries = self.audit.append_many(
            [(f"firewall.{stage}", self.audit_data(stage, v, text, tid)) for stage, v, text, tid in items]
        )
        return [e.seq for e in entries]
