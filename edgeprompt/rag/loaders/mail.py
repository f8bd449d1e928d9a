"""E-mail: .eml (one message) and .mbox (many; each message is a section headed by its subject).

Headers that matter to a reader (from, to, date, subject) become one block; the body is the plain-text
part, or the visible text of the HTML part (whose hidden text goes to the firewall). Attachments are
named, not opened.
"""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

from edgeprompt.rag.blocks import HEADING, PARAGRAPH, Block, Loaded
from edgeprompt.rag.loaders import Skip, decode_text

_MBOX_FROM = re.compile(rb"^From \S", re.M)


def _body_lines(raw: bytes) -> int:
    """How many lines the header takes (up to and including the blank separator line)."""
    cut = re.search(rb"\r?\n\r?\n", raw)
    return raw[: cut.end()].count(b"\n") if cut else raw.count(b"\n") + 1


def _message(raw: bytes, first_line: int, path: Path) -> tuple[str, list[Block], list[str]]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    if not isinstance(msg, EmailMessage) or not (msg.keys()):
        raise Skip("not an e-mail message (no headers)")
    subject = str(msg.get("subject", "") or "").strip() or "(no subject)"
    head_n = _body_lines(raw)
    last_line = first_line + raw.count(b"\n")
    header = "\n".join(f"{k}: {msg[k]}" for k in ("From", "To", "Cc", "Date", "Subject") if msg.get(k))
    # no block for a header with none of these fields (an empty block became an empty chunk: found by fuzzing)
    blocks = [Block(header, PARAGRAPH, 0, first_line, first_line + head_n - 1)] if header else []
    hidden: list[str] = []
    body_first = first_line + head_n
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is not None:
        content = part.get_content()
        content = content if isinstance(content, str) else decode_text(content)
        if part.get_content_type() == "text/html":
            from edgeprompt.rag.loaders.html import load_html

            page = load_html(path, content.encode("utf-8"))
            hidden.extend(page.hidden)
            # the HTML's own line numbers do not map onto the file once decoded: cite the body's range
            blocks.extend(
                Block(b.text, b.kind, b.level, body_first, last_line) for b in page.blocks if b.kind != HEADING
            )
        else:
            exact = not msg.is_multipart() and str(part.get("content-transfer-encoding", "7bit")).lower() in (
                "7bit",
                "8bit",
                "binary",
            )
            blocks.extend(_paragraphs(content, body_first, last_line, exact))
    names = [name for p in msg.iter_attachments() if (name := p.get_filename())]
    if names:
        blocks.append(Block("Attachments: " + ", ".join(names), PARAGRAPH, 0, body_first, last_line))
    return subject, blocks, hidden


def _paragraphs(text: str, first: int, last: int, exact: bool) -> list[Block]:
    out = []
    for m in re.finditer(r"\S(?:.*\S)?(?:\n[ \t]*\S.*)*", text):
        para = m.group(0).strip()
        if exact:
            a = first + text.count("\n", 0, m.start())
            out.append(Block(para, PARAGRAPH, 0, a, a + para.count("\n")))
        else:
            out.append(Block(para, PARAGRAPH, 0, first, last))
    return out


def load_email(path: Path, data: bytes) -> Loaded:
    if path.suffix.lower() == ".eml":
        subject, blocks, hidden = _message(data, 1, path)
        return Loaded("email", subject, tuple(blocks), tuple(hidden))
    starts = [m.start() for m in _MBOX_FROM.finditer(data)]
    if not starts:
        raise Skip("not an mbox file (no 'From ' separator lines)")
    blocks = []
    hidden = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        sep = chunk.find(b"\n") + 1  # the "From sender date" line is mbox framing, not the message
        line = data.count(b"\n", 0, start) + 2
        subject, msg_blocks, msg_hidden = _message(chunk[sep:].replace(b"\n>From ", b"\nFrom "), line, path)
        blocks.append(Block(subject, HEADING, 1, line, line))
        blocks.extend(msg_blocks)
        hidden.extend(msg_hidden)
    return Loaded("email", path.stem, tuple(blocks), tuple(hidden))
