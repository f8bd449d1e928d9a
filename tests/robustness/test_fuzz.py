"""Property tests: malformed input of every kind ends in a result or a clear one-line refusal, never a traceback.

Targets: every document loader (through load + chunk, as the indexing worker runs them), the firewall's
normaliser and its base64/hex decoders, the CLI's JSON Lines reader, prompt YAML files, the template sandbox,
and signed pack import (malformed packs, tampered packs, and well-signed packs with malformed contents).
Bounded per target in CI (profile "ci"); `HYPOTHESIS_PROFILE=long` for a long run by hand.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from edgeprompt.errors import EdgepromptError
from edgeprompt.rag.loaders import Skip
from edgeprompt.rag.parsing import parse_here

pytestmark = pytest.mark.robustness
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "documents"
# a loader's catch-all: an exception its own code did not expect ("unreadable csv: IndexError: …")
_CAUGHT_CRASH = re.compile(r"^unreadable \w+: \w*(Error|Exception)\b")


def clear(reason: str) -> None:
    """A refusal a person can read: one line, not empty, not a dump."""
    assert reason.strip() and "\n" not in reason and len(reason) <= 400, reason
    assert "Traceback" not in reason, reason


def parsed_or_skipped(name: str, data: bytes, own_parser: bool = True) -> None:
    try:
        loaded, chunks = parse_here(Path(name), data, 600, 100)
    except Skip as e:
        clear(str(e))
        if own_parser:  # our own parsers refuse on purpose; a caught crash there is a bug to fix
            assert not _CAUGHT_CRASH.match(str(e)), str(e)
        return
    assert chunks and all(c.text.strip() for c in chunks)
    assert isinstance(loaded.title, str)


def pieces(*parts: str) -> st.SearchStrategy[str]:
    """Documents built from a format's syntax fragments mixed with arbitrary text."""
    return st.lists(st.one_of(st.sampled_from(parts), st.text(max_size=12)), max_size=60).map("".join)


HTML = pieces(
    "<div>",
    "</div>",
    "<p>",
    "</p>",
    "<table>",
    "</table>",
    "<tr>",
    "</tr>",
    "<td>",
    "<th>",
    "</td>",
    "<li>",
    "<ul>",
    "</ul>",
    "<h1>",
    "</h1>",
    "<h7>",
    "<pre>",
    "</pre>",
    "<script>",
    "</script>",
    "<style>",
    "<!--",
    "-->",
    "<br>",
    "<br/>",
    "<span hidden>",
    "</span>",
    '<div style="display:none">',
    "<title>",
    "</title>",
    "&amp;",
    "&#0;",
    "&#99999999;",
    "&#xD800;",
    "<![CDATA[",
    "]]>",
    "<",
    ">",
    "<template>",
    "</template>",
    '<a href="x">',
    "</a>",
    "<svg>",
    "<img src=x>",
    "</body>",
    "</html>",
    "words here. ",
    "\n",
)
MARKDOWN = pieces(
    "# ",
    "## ",
    "###### ",
    "####### ",
    "- ",
    "* ",
    "1. ",
    "```",
    "```py\n",
    "~~~",
    "| a | b |\n",
    "|---|---|\n",
    "| 1 |\n",
    "> ",
    "---\n",
    "    code\n",
    "[link](",
    ")",
    "*",
    "_",
    "\n",
    "\n\n",
    "<div>",
    "</div>",
    "Heading\n=====\n",
    "text.\n",
    "\t",
    "\\",
    "![img](x)",
    "[^1]: note\n",
)
CSV = pieces(",", ";", "\t", "\n", "\r\n", '"', '""', "a,b,c\n", "1,2\n", "x" * 40, "\x00", "=cmd|' /C calc'!A0")
EMAIL = pieces(
    "From: a@b.c\n",
    "To: d@e.f\n",
    "Subject: hi\n",
    "Subject: =?utf-8?b?",
    "?=",
    "=?x?q?=ZZ?=",
    "Content-Type: multipart/mixed; boundary=x\n",
    "Content-Type: text/html; charset=bogus\n",
    "Content-Transfer-Encoding: base64\n",
    "Content-Transfer-Encoding: quoted-printable\n",
    "--x\n",
    "--x--\n",
    "\n",
    "\n\n",
    "From someone Mon Jan 1 00:00:00 2024\n",
    "=C3=A9",
    "<p>hi</p>",
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@given(
    st.sampled_from(
        sorted(
            {
                ".md",
                ".txt",
                ".html",
                ".csv",
                ".tsv",
                ".json",
                ".jsonl",
                ".eml",
                ".mbox",
                ".py",
                ".toml",
                ".pdf",
                ".docx",
            }
        )
    ),
    st.binary(max_size=3000),
)
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_any_bytes_under_any_suffix(suffix: str, data: bytes) -> None:
    parsed_or_skipped("f" + suffix, data, own_parser=suffix not in (".pdf", ".docx"))


@given(HTML)
@pytest.mark.slow  # hypothesis, one of the costlier targets (the fast lane keeps the cheaper ones)
def test_html(text: str) -> None:
    parsed_or_skipped("page.html", text.encode("utf-8", "surrogatepass"))


@given(MARKDOWN, st.sampled_from([".md", ".txt", ".rst", ".py", ".yaml"]))
def test_markdown_text_and_code(text: str, suffix: str) -> None:
    parsed_or_skipped("note" + suffix, text.encode("utf-8", "surrogatepass"))


@given(CSV, st.sampled_from([".csv", ".tsv"]))
def test_csv_and_tsv(text: str, suffix: str) -> None:
    parsed_or_skipped("table" + suffix, text.encode("utf-8", "surrogatepass"))


@given(st.lists(JSON_VALUES, min_size=1, max_size=6), st.integers(0, 50), st.booleans())
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_json_and_json_lines(values: list[Any], cut: int, lines: bool) -> None:
    text = "\n".join(json.dumps(v) for v in values) if lines else json.dumps(values)
    text = text[: len(text) - cut] if cut < len(text) else text  # truncated files too
    parsed_or_skipped("data.jsonl" if lines else "data.json", text.encode())


@given(EMAIL, st.sampled_from([".eml", ".mbox"]))
@example("From someone Mon Jan 1 00:00:00 2024\n?=From: a@b.c\n", ".mbox")  # the long run found: an empty chunk
def test_email(text: str, suffix: str) -> None:
    parsed_or_skipped("mail" + suffix, text.encode("utf-8", "surrogatepass"))


def _mutated(sample: bytes) -> st.SearchStrategy[bytes]:
    def apply(edits: list[tuple[int, int]], cut: int) -> bytes:
        data = bytearray(sample)
        for pos, value in edits:
            data[pos % len(data)] = value
        return bytes(data[: max(1, len(data) - cut)])

    return st.builds(
        apply,
        st.lists(st.tuples(st.integers(0, len(sample) - 1), st.integers(0, 255)), max_size=12),
        st.integers(0, len(sample)) | st.just(0),
    )


@given(_mutated((SAMPLES / "housing" / "lease-harbor-view-2024.pdf").read_bytes()))
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_pdf_mutations(data: bytes) -> None:
    parsed_or_skipped("lease.pdf", data, own_parser=False)


@given(_mutated((SAMPLES / "insurance" / "renters-insurance-policy.docx").read_bytes()))
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_docx_mutations(data: bytes) -> None:
    parsed_or_skipped("policy.docx", data, own_parser=False)


# the firewall's normaliser and decoders ----------------------------------------------------------------------
ENCODED = st.text(max_size=60).flatmap(
    lambda t: st.sampled_from(
        [
            t,
            base64.b64encode(t.encode("utf-8", "surrogatepass")).decode(),
            t.encode("utf-8", "surrogatepass").hex(),
            base64.b64encode(base64.b64encode(t.encode("utf-8", "surrogatepass"))).decode(),
            " ".join(t),
            "1gn0r3 " + t,
            base64.urlsafe_b64encode(t.encode("utf-8", "surrogatepass")).decode()[:-1],
        ]
    )
)


@given(
    st.lists(
        st.one_of(
            ENCODED,
            st.text(max_size=30),
            st.sampled_from(["\u200b", "\u202e", "ｉｇｎｏｒｅ", "\u0456", "=", "==", "0x", "\\x41", "%41"]),
        ),
        max_size=8,
    ).map(" ".join)
)
def test_firewall_normalize_and_decoders(text: str) -> None:
    from edgeprompt.firewall.normalize import normalize

    n = normalize(text)
    assert isinstance(n.text, str) and all(isinstance(p, str) for p in n.payloads)
    assert isinstance(n.transforms, tuple)


# JSON Lines input of the CLI --------------------------------------------------------------------------------
@given(
    st.lists(
        st.one_of(
            JSON_VALUES.map(json.dumps),
            st.text(max_size=40),
            st.builds(lambda q: json.dumps({"question": q}), st.text(max_size=20)),
        ),
        max_size=10,
    )
)
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_json_lines_input(lines: list[str]) -> None:
    from edgeprompt.cli import read_jsonl

    for n, rec in read_jsonl(io.StringIO("\n".join(lines)), "question"):
        assert isinstance(n, int)
        if isinstance(rec, str):
            clear(rec)
            assert rec.startswith(f"line {n}: ")
        else:
            assert isinstance(rec["question"], str)


# prompt YAML and the template sandbox ------------------------------------------------------------------------
JINJA = pieces(
    "{{ question }}",
    "{{ question|upper }}",
    "{{ question|length }}",
    "{% for c in question %}",
    "{% endfor %}",
    "{% if question %}",
    "{% endif %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ question.__init__.__globals__ }}",
    "{{ range(99999999)|list }}",
    "{{ question * 3 }}",
    "{{ 1/0 }}",
    "{{ 'ab' * 999999999999 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ [1] * 999999999999 }}",
    "{% raw %}",
    "{% endraw %}",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "{{ undefined_name }}",
    "{{ question[999] }}",
    "{{ question.upper() }}",
    "{{ lipsum() }}",
    "{% set x = 1 %}",
    "{{ x }}",
    "{{ question|format(1) }}",
    "{{ '%s' % question }}",
    "{{ question|attr('__class__') }}",
)


@given(JINJA, st.text(max_size=30))
def test_template_sandbox(template: str, question: str) -> None:
    from edgeprompt.errors import TemplateError
    from edgeprompt.prompts.templates import compile_text, render_text

    try:
        out = render_text("t", compile_text("t", template), {"question": question})
    except TemplateError as e:
        clear(str(e))
        return
    assert isinstance(out, str) and "<class" not in out


YAML_KEYS = st.sampled_from(
    [
        "name",
        "template",
        "system",
        "description",
        "variables",
        "params",
        "tests",
        "output_schema",
        "edgeprompt",
        "author",
        "message",
        "bogus",
    ]
)
YAML_DOCS = st.dictionaries(
    YAML_KEYS, st.one_of(JSON_VALUES, JINJA, st.just("a-name"), st.just([{"name": "question"}])), max_size=8
)


@given(
    st.one_of(
        YAML_DOCS.map(lambda d: json.dumps(d)),
        pieces(
            "name: ",
            "template: |\n  ",
            "variables:\n",
            "  - name: question\n",
            "params:\n  temperature: ",
            "{{ question }}",
            "\n",
            "- ",
            ": ",
            "&a ",
            "*a ",
            "!!python/object:os.system ",
            "? ",
            "---\n",
            "...\n",
        ),
    )
)
@example(json.dumps({"name": {"k" * 30: ["v" * 40] * 12}}))  # the long run found: a 400+ character error
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_prompt_yaml(text: str) -> None:
    from edgeprompt.prompts.files import parse_yaml
    from edgeprompt.prompts.spec import parse_spec

    try:
        spec = parse_spec(parse_yaml(text, "p.yaml"), "p.yaml")
    except EdgepromptError as e:
        clear(str(e))
        return
    assert spec.name and isinstance(spec.template, str)


# signed packs ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from edgeprompt.signing import TrustStore, generate_key

    folder = tmp_path_factory.mktemp("keys")
    generate_key(folder / "k")
    trust = TrustStore(folder / "trusted")
    trust.add_file(folder / "k.pub")
    return folder / "k", trust


def _pack_outcome(data: bytes, trust: Any) -> None:
    from edgeprompt.firewall.intel import verify

    try:
        verify(data, trust)
    except EdgepromptError as e:
        clear(str(e))


@given(
    st.one_of(
        st.binary(max_size=400),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(
            st.sampled_from(
                ["format", "kind", "name", "version", "files", "meta", "public_key", "signature", "created_at"]
            ),
            JSON_VALUES,
        ).map(lambda d: json.dumps(d).encode()),
    )
)
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_malformed_packs(keys: tuple[Path, Any], data: bytes) -> None:
    _pack_outcome(data, keys[1])


@given(st.data())
@pytest.mark.slow  # hypothesis, one of the costlier targets
def test_tampered_and_well_signed_malformed_packs(keys: tuple[Path, Any], data: st.DataObject) -> None:
    from edgeprompt.signing import sign_pack

    rules = data.draw(
        st.one_of(
            pieces(
                "[[rule]]\n",
                'id = "x"\n',
                'pattern = "',
                '"\n',
                "(?i)ignore",
                "[",
                "]",
                "score = ",
                "0.9\n",
                "name = ",
                'version = "1"\n',
                "\\",
                "(",
                "*+",
            ),
            st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        ),
        label="rules.toml",
    )
    kind = data.draw(st.sampled_from(["firewall-rules", "firewall-model", "prompts", "bogus"]), label="kind")
    pack = sign_pack(kind, "fuzz", "1", {"rules.toml": rules.encode("utf-8", "surrogatepass")}, keys[0])
    if data.draw(st.booleans(), label="tamper"):
        pos = data.draw(st.integers(0, 10**6), label="pos") % len(pack)  # the length varies with created_at
        pack = pack[:pos] + bytes([data.draw(st.integers(0, 255), label="byte")]) + pack[pos + 1 :]
    _pack_outcome(pack, keys[1])
