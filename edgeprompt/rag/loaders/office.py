"""PDF (pypdf: text per page, paragraphs within a page) and DOCX (python-docx: paragraphs by style,
tables by row, in document order)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from edgeprompt.rag.blocks import HEADING, LIST, PARAGRAPH, TABLE, Block, Loaded, labelled_rows
from edgeprompt.rag.loaders import Skip

_SPACE = re.compile(r"[ \t]+")


def load_pdf(path: Path, data: bytes) -> Loaded:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-but-readable files warn loudly
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise Skip("encrypted PDF (needs a password)")
        pages = list(reader.pages)
    except PdfReadError as e:
        raise Skip(f"unreadable pdf: {e}") from e
    blocks: list[Block] = []
    for n, page in enumerate(pages, 1):
        text = page.extract_text() or ""
        for para in re.split(r"\n\s*\n", text):
            lines = [_SPACE.sub(" ", x).strip() for x in para.splitlines()]
            lines = [x for x in lines if x]
            if lines:
                blocks.extend(_pdf_blocks(lines, n))
    meta = reader.metadata
    title = (meta.title if meta is not None and meta.title else "") or path.stem
    return Loaded("pdf", str(title).strip(), tuple(blocks))


def _pdf_blocks(lines: list[str], page: int) -> list[Block]:
    """A page's text rarely keeps blank lines: start a new paragraph after a line that ends a sentence
    and is clearly shorter than the page's long lines."""
    width = max(len(x) for x in lines)
    out: list[Block] = []
    cur: list[str] = []
    for line in lines:
        cur.append(line)
        if line.endswith((".", ":", "!", "?")) and len(line) < 0.7 * width:
            out.append(Block(" ".join(cur), PARAGRAPH, page=page))
            cur = []
    if cur:
        out.append(Block(" ".join(cur), PARAGRAPH, page=page))
    return out


# A DOCX is a zip of XML, which deflates ~5-20x; past 100x (and 16 MB) it is built to exhaust the reader
MAX_EXPANSION = 100
MIN_EXPANDED_LIMIT = 16_000_000


def check_expansion(data: bytes, kind: str) -> None:
    """Refuse a zip whose members would expand beyond MAX_EXPANSION x its size, before any is inflated.

    zipfile stops each member at its declared size, so the declared sizes bound what parsing can inflate."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            expanded = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise Skip(f"unreadable {kind}: not a valid zip file ({e})") from e
    if expanded > max(MAX_EXPANSION * len(data), MIN_EXPANDED_LIMIT):
        raise Skip(
            f"{kind} expands beyond {MAX_EXPANSION}x its size ({len(data) / 1e6:.1f} MB -> "
            f"{expanded / 1e6:,.0f} MB): a zip bomb or not a document"
        )


def load_docx(path: Path, data: bytes) -> Loaded:
    import zipfile

    import docx
    from docx.table import Table

    check_expansion(data, "docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise Skip(f"unreadable docx: {type(e).__name__}") from e
    blocks: list[Block] = []
    title = (document.core_properties.title or "").strip()
    n = 0
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                n += 1
                rows.append(([c.text.strip() for c in row.cells], n, n))
            if rows:
                table = labelled_rows(rows[0][0] if len(rows) > 1 else [], rows[1:] if len(rows) > 1 else rows)
                if len(rows) > 1 and table:
                    table[0] = Block(table[0].text, TABLE, 0, rows[0][1], rows[0][2])
                blocks.extend(table)
            continue
        n += 1
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if style == "Title":  # the document's own title line names the document, not a section
            title = title or text
        elif m := re.match(r"Heading (\d)", style):
            blocks.append(Block(text, HEADING, int(m.group(1)), n, n))
        elif style.startswith("List"):
            blocks.append(Block(f"- {text}", LIST, 0, n, n))
        else:
            blocks.append(Block(text, PARAGRAPH, 0, n, n))
    return Loaded("docx", title or path.stem, tuple(blocks), line_unit="paragraph")
