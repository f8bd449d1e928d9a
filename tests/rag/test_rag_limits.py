"""Per-file limits: a pathological file is skipped with its reason and the rest of the run is indexed.

The deep-HTML and zip-bomb files are the two reported by hand (one ran past 120 s; one was skipped by
accident with an AttributeError). Each runs under the default 10 s budget: a reason other than "took
longer than 10 s" means the file was refused within that time.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from rag_helpers import integrity

from edgeprompt.rag.parsing import ParseLimits, ParseWorker


def deep_html() -> bytes:
    """100,000 nested <div>s: 1.1 MB."""
    return b"<html><body>" + b"<div>" * 100_000 + b"deep" + b"</div>" * 100_000 + b"</body></html>"


def zip_bomb(expanded_mb: int = 1024) -> bytes:
    """A valid DOCX-named zip whose word/document.xml inflates from ~1 MB to `expanded_mb` MB of zeros.

    Deflating 1 GB takes ~15 s, so one MB of zeros is deflated once with a full flush (a byte-aligned block
    that refers to nothing before it) and that block is repeated: the gigabyte never exists anywhere."""
    mb = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(mb) + c.flush(zlib.Z_FULL_FLUSH)
    body = block * expanded_mb + c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(expanded_mb):
        crc = zlib.crc32(mb, crc)
    size = expanded_mb << 20
    name = b"word/document.xml"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0) + name
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0, 0, 0, 0, 0, 0
        )
        + name
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(body), 0)
    return local + body + central + end


def test_deep_html_and_zip_bomb_are_skipped_with_their_reason_and_indexing_goes_on(rt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a-note.md").write_text("# Note\n\nThe spare key is under the blue flowerpot.\n", encoding="utf-8")
    (docs / "deep.html").write_bytes(deep_html())
    bomb = zip_bomb()
    (docs / "bomb.docx").write_bytes(bomb)
    (docs / "z-note.txt").write_text("The boiler was serviced in March.\n", encoding="utf-8")
    assert len(bomb) < 1_150_000

    summary = rt.documents().indexer.add([docs])

    reasons = {Path(s["path"]).name: s["reason"] for s in summary.skipped}
    assert reasons["deep.html"] == "HTML nested deeper than 1,000 elements"
    assert reasons["bomb.docx"].startswith("docx expands beyond 100x its size (1.1 MB -> 1,074 MB)")
    assert summary.indexed == 2 and summary.skipped_count == 2
    assert integrity(rt.db.path) == "ok"


def test_a_file_over_the_time_budget_is_skipped_and_the_next_file_gets_a_new_worker(tmp_path: Path) -> None:
    # ~1 MB of Markdown takes markdown-it several seconds; the small files take milliseconds
    slow = ("# T\n\n" + "Words, a [link](x) *em* `code`.\n\n" * 30_000).encode()
    small = b"# Small\n\nOne short paragraph.\n"
    with ParseWorker(ParseLimits(timeout_s=0.5)) as worker:
        first = worker.parse(tmp_path / "a.md", small, 600, 100)
        try:
            worker.parse(tmp_path / "slow.md", slow, 600, 100)
            raise AssertionError("the slow file was read within 0.5 s")
        except Exception as e:
            assert str(e) == "took longer than 0.5 s to read (the limit per file)"
        after = worker.parse(tmp_path / "b.md", small, 600, 100)
    assert first[0].title == after[0].title == "Small" and len(after[1]) == 1


def test_a_file_over_the_memory_budget_is_skipped_with_the_limit_named(tmp_path: Path) -> None:
    table = ("a,b,c\n" + "1,two,three\n" * 2_000_000).encode()  # 24 MB of CSV rows
    with ParseWorker(ParseLimits(timeout_s=60, memory_mb=300)) as worker:
        try:
            worker.parse(tmp_path / "big.csv", table, 600, 100)
            raise AssertionError("the table was read within 300 MB")
        except Exception as e:
            assert str(e) == "needs more than 300 MB of memory to read (the limit per file)"
        loaded, chunks = worker.parse(tmp_path / "small.csv", b"a,b\n1,2\n", 600, 100)
    assert loaded.kind == "csv" and chunks


def test_old_style_html_with_unclosed_paragraphs_and_cells_is_not_deep(tmp_path: Path) -> None:
    from edgeprompt.rag.loaders import load

    page = "<html><body>" + "<p>Paragraph" * 3000 + "<table><tr><th>Item<th>Cost<tr><td>Tea<td>$3</table>"
    doc = load(tmp_path / "old.html", page.encode())
    texts = [b.text for b in doc.blocks]
    assert texts.count("Paragraph") == 3000 and "Item: Tea; Cost: $3" in texts
