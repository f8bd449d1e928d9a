"""Chunks follow structure, overlap inside a section, stay under the size limit, and carry provenance."""

from __future__ import annotations

import itertools
from pathlib import Path

from edgeprompt.rag.blocks import HEADING, PARAGRAPH, Block, Loaded
from edgeprompt.rag.chunking import chunk, location
from edgeprompt.rag.loaders import load


def test_heading_paths_and_line_ranges(tmp_path: Path) -> None:
    p = tmp_path / "lease.md"
    p.write_text(
        "# Lease\n\nIntro.\n\n## Rent\n\nRent is 900.\n\n### Late fees\n\nLate fee 50.\n\n## Pets\n\nNo dogs.\n",
        encoding="utf-8",
    )
    chunks = chunk(load(p, p.read_bytes()))
    got = [(c.context, c.text, c.location) for c in chunks]
    assert got == [
        ("Lease", "Intro.", "line 3"),
        ("Lease > Rent", "Rent is 900.", "line 7"),
        ("Lease > Rent > Late fees", "Late fee 50.", "line 11"),
        ("Lease > Pets", "No dogs.", "line 15"),
    ]
    assert len({c.sha256 for c in chunks}) == 4 and [c.seq for c in chunks] == [0, 1, 2, 3]


def test_long_sections_split_with_overlap_and_size_limit() -> None:
    sentences = [f"Fact number {i} is about the boiler." for i in range(80)]
    text = " ".join(sentences[:40]) + "\n" + " ".join(sentences[40:])
    doc = Loaded("text", "Manual", (Block("Boiler", HEADING, 1, 1, 1), Block(text, PARAGRAPH, 0, 3, 4)))
    chunks = chunk(doc, max_chars=300, overlap=80)
    assert len(chunks) > 5 and all(len(c.text) <= 300 for c in chunks)
    assert all(c.context == "Manual > Boiler" for c in chunks)
    for a, b in itertools.pairwise(chunks):  # each chunk starts with the tail of the one before
        first = b.text.split(". ")[0]
        assert first in a.text
    assert chunks[0].location == "line 3" and chunks[-1].location == "line 4"
    covered = " ".join(c.text for c in chunks)
    assert all(s in covered for s in sentences)


def test_a_chunk_never_spans_two_sections() -> None:
    doc = Loaded(
        "markdown",
        "T",
        (
            Block("A", HEADING, 2, 1, 1),
            Block("x " * 50, PARAGRAPH, 0, 2, 2),
            Block("B", HEADING, 2, 3, 3),
            Block("y " * 50, PARAGRAPH, 0, 4, 4),
        ),
    )
    chunks = chunk(doc, max_chars=1000)
    assert [c.context for c in chunks] == ["T > A", "T > B"]
    assert "y" not in chunks[0].text


def test_pages_and_paragraph_units_in_locations() -> None:
    assert location(None, None, 2, 2) == "page 2" and location(None, None, 2, 3) == "pages 2-3"
    assert location(4, 9, None, None, "paragraph") == "paragraphs 4-9" and location(5, 5, None, None) == "line 5"
    doc = Loaded("pdf", "P", (Block("one. " * 30, PARAGRAPH, page=1), Block("two. " * 30, PARAGRAPH, page=2)))
    assert [c.location for c in chunk(doc, max_chars=200, overlap=0)] == ["page 1", "page 2"]
