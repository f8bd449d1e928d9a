"""Hybrid retrieval: reciprocal-rank fusion, filters, and the right document for confusable questions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from edgeprompt.errors import UsageError
from edgeprompt.rag.retrieve import Filters, fts_query, rrf


def test_rrf_matches_hand_computed_scores() -> None:
    fused = dict(rrf([1, 2, 3], [3, 1, 4], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62) and fused[4] == pytest.approx(1 / 63)
    assert [i for i, _ in rrf([1, 2, 3], [3, 1, 4], k=60)] == [1, 3, 2, 4]


def test_fts_query_keeps_content_words_quoted() -> None:
    assert fts_query("What is the deposit for the Oak Street flat?") == '"deposit" OR "oak" OR "street" OR "flat"'
    assert fts_query("the and of") == ""
    assert fts_query('a "quoted" OR NEAR(x) 42') == '"quoted" OR "near" OR "42"'


def test_filters_parse_and_refuse_bad_input() -> None:
    f = Filters.parse(["path=*.md", "type=pdf,markdown", "after=2024-01-01", "before=2025-01-01"])
    assert f.path == "*.md" and f.kinds == ("pdf", "markdown") and f.after < f.before
    for bad, message in (
        ("type=exe", "unknown type"),
        ("after=yesterday", "bad date"),
        ("color=red", "unknown filter"),
        ("path", "bad filter"),
    ):
        with pytest.raises(UsageError, match=message):
            Filters.parse([bad])


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the monthly rent at Harbor View?", "lease-harbor-view-2024.pdf"),
        ("How much was the rent for the Oak Street apartment in Portland?", "lease-oak-street-2023.md"),
        ("What is the comprehensive deductible on my car insurance?", "car-insurance-policy.html"),
        ("What is the deductible on my renters insurance for personal property?", "renters-insurance-policy.docx"),
        ("What was the hotel confirmation number in Lisbon?", "trip-lisbon-2024.md"),
        ("What is the confirmation number for the ryokan in Kyoto?", "trip-kyoto-2025.md"),
    ],
)
def test_confusable_documents_rank_the_right_one_first(samples_home: Path, question: str, expected: str) -> None:
    from edgeprompt.app import Runtime

    with Runtime.open(samples_home) as rt:
        hits = rt.documents().retriever.search(question, 5)
    assert Path(hits[0].path).name == expected
    assert hits[0].location and hits[0].doc_sha256 and hits[0].relevance > 0.3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_filters_by_path_type_and_date(rt, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    old = corpus / "notes" / "garden.txt"
    past = time.time() - 400 * 86400
    os.utime(old, (past, past))
    rt.documents().indexer.add([corpus])
    search = rt.documents().retriever.search

    def names(*specs: str) -> set[str]:
        return {Path(h.path).name for h in search("rent deposit tomatoes basil", 10, Filters.parse(list(specs)))}

    assert names() == {"lease.md", "garden.txt", "plants.csv"}
    assert names("type=csv") == {"plants.csv"}
    assert names("path=*/notes/*") == {"garden.txt", "plants.csv"}
    assert names("path=lease.md") == {"lease.md"}
    cutoff = time.strftime("%Y-%m-%d", time.localtime(time.time() - 30 * 86400))
    assert names(f"before={cutoff}") == {"garden.txt"}
    assert "garden.txt" not in names(f"after={cutoff}")
    assert search("", 5) == []

    def within(*paths: Path) -> set[str]:
        found = search("rent deposit tomatoes basil", 10, Filters(within=tuple(str(p.resolve()) for p in paths)))
        return {Path(h.path).name for h in found}

    assert within(corpus / "lease.md") == {"lease.md"}  # a chat's attachment: that file only
    assert within(corpus / "notes") == {"garden.txt", "plants.csv"}  # a folder: what is under it
    assert within(corpus / "lease.md", old) == {"lease.md", "garden.txt"}
