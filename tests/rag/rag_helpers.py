"""Shared helpers for the document tests (imported by name: tests/rag is on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgeprompt.backends.base import Document

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "documents"
QUESTIONS = ROOT / "samples" / "eval" / "questions.jsonl"


@dataclass(frozen=True)
class Verdict:
    decision: str
    score: float
    categories: list[str] = field(default_factory=list)


def injection_scanner(text: str) -> Verdict:
    """Flags the textbook injection phrase; the real scanner (edgeprompt.firewall) plugs in the same way."""
    if "ignore previous instructions" in text.lower():
        return Verdict("flag", 0.99, ["prompt-injection"])
    return Verdict("allow", 0.01, [])


def integrity(db_path: Path) -> str:
    import sqlean

    conn = sqlean.connect(str(db_path))
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


# one small hotel note, shared by the answerability and support tests
HOTEL = Document(
    1,
    "# Osaka trip\n\n## Hotel\n\nHotel Kitahama, a small hotel near the river. Confirmation number "
    "OS-4410. Check-in from 15:00. Breakfast is included.",
    "/h/trip-osaka.md",
    "lines 1-6",
    0.5,
    "Osaka trip > Hotel",
)
