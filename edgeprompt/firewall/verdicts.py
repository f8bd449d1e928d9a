"""One firewall decision inside a request, as the pipeline carries it to `AskResult.verdicts`: which stage
decided, the typed result it decided with (a stage-1 `Verdict`, or stage 3's `OutputResult`), and its audit
entry. It becomes a dict only at the edges (`as_dict`: JSON output, the API); span attributes come from
`trace_attributes`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeprompt.firewall.output import OutputResult
from edgeprompt.firewall.scanner import Verdict


@dataclass(frozen=True)
class StageVerdict:
    stage: str  # input | document | output
    result: Verdict | OutputResult
    audit_id: int | None = None
    source: int | None = None  # the retrieved passage's number (stage "document")

    @property
    def decision(self) -> str:
        return self.result.decision

    @property
    def score(self) -> float:
        """The scanner's score; stage 3 has none, it found something (1.0) or not (0.0)."""
        if isinstance(self.result, Verdict):
            return self.result.score
        return 1.0 if self.result.findings else 0.0

    @property
    def categories(self) -> list[str]:
        return list(self.result.categories)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def record(self) -> dict[str, Any]:
        """What the audit log is given for this decision (the stage's result, without the audit entry)."""
        if isinstance(self.result, Verdict):
            return self.result.as_dict()
        return {
            "decision": self.decision,
            "score": self.score,
            "categories": self.categories,
            "findings": [f.as_dict() for f in self.result.findings],
            "latency_ms": round(self.result.latency_ms, 3),
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`ask --json`, the API's `edgeprompt.verdicts`). A passage's verdict names its audit
        entry only when it was audited (an allowed passage is not, unless configured)."""
        head: dict[str, Any] = {"stage": self.stage}
        if self.source is not None:
            head["source"] = self.source
        d = {**head, **self.record()}
        if self.stage != "document" or self.audit_id is not None:
            d["audit_id"] = self.audit_id
        return d

    def trace_attributes(self) -> dict[str, Any]:
        """The decision on the stage's span (input and output; passages are counted by `PromptParts`)."""
        return {
            f"edgeprompt.firewall.{self.stage}.decision": self.decision,
            f"edgeprompt.firewall.{self.stage}.score": round(self.score, 4),
            f"edgeprompt.firewall.{self.stage}.categories": self.categories,
        }
