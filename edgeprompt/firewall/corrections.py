"""`firewall feedback ID --benign|--attack`: the user's correction of a decision becomes a labelled
example on this laptop (`labelled_examples`, task "firewall"), for retraining and federated training.

ID is an audit entry number or a trace id. The text comes from the user's own session turn when the
decision was about a question they asked (kept locally only), else from the audit entry's redacted text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgeprompt.errors import NotFoundError, UsageError
from edgeprompt.store.audit import AuditEntry, AuditLog
from edgeprompt.store.db import Database
from edgeprompt.store.examples import Example, ExampleStore

LABELS = ("attack", "benign")


@dataclass(frozen=True)
class Correction:
    example: Example
    audit_seq: int
    was: str  # the decision being corrected

    def as_dict(self) -> dict[str, Any]:
        return {
            "example_id": self.example.id,
            "label": self.example.label,
            "audit_id": self.audit_seq,
            "decision_was": self.was,
            "ref": self.example.ref,
            "chars": len(self.example.text),
        }


def _entry(db: Database, ref: str) -> AuditEntry:
    if ref.isdigit():
        row = db.query_one("SELECT * FROM audit_log WHERE seq = ? AND kind LIKE 'firewall.%'", (int(ref),))
    else:  # a trace id: the input decision of that request (else its first firewall decision)
        row = db.query_one(
            "SELECT * FROM audit_log WHERE kind LIKE 'firewall.%' AND json_extract(data, '$.trace_id') = ? "
            "ORDER BY kind != 'firewall.input', seq LIMIT 1",
            (ref,),
        )
    if row is None:
        raise NotFoundError(f"no firewall decision '{ref}' in the audit log (see `edgeprompt firewall audit show`)")
    return AuditEntry(
        row["seq"], row["created_at"], row["kind"], json.loads(row["data"]), row["prev_hash"], row["hash"]
    )


def _text(db: Database, entry: AuditEntry) -> str:
    trace_id = entry.data.get("trace_id")
    if entry.kind == "firewall.input" and trace_id:
        row = db.query_one(
            "SELECT content FROM turns WHERE trace_id = ? AND role = 'user' ORDER BY id LIMIT 1", (trace_id,)
        )
        if row is not None:
            return str(row[0])
    text = entry.data.get("text_redacted")
    if not text:
        raise UsageError("this decision's text was not kept (audit_content = hash) and no session turn has it")
    return str(text)


def correct(db: Database, ref: str, label: str) -> Correction:
    if label not in LABELS:
        raise UsageError(f"label must be one of {', '.join(LABELS)}")
    entry = _entry(db, ref)
    text = _text(db, entry)
    with db.transaction():  # the example and its audit note land together
        example = ExampleStore(db).add("firewall", text, label, "feedback", f"audit:{entry.seq}")
        AuditLog(db).append(
            "firewall.feedback",
            {
                "audit_id": entry.seq,
                "label": label,
                "decision_was": entry.data.get("decision"),
                "example_id": example.id,
            },
        )
    return Correction(example, entry.seq, str(entry.data.get("decision", "")))
