"""Assertions of a prompt's test suite, checked against one model answer.

Each check returns None when it holds, else a one-line reason. `similar` uses the MiniLM embedder it is
given (cosine of unit vectors); `firewall-clean` asks the prompt firewall's scan it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.prompts.spec import DEFAULT_SIMILARITY, Assertion

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.firewall.scanner import Verdict

Embed = Callable[[list[str]], "np.ndarray"]  # texts -> unit vectors [n, 384]
Scan = Callable[[str, str], "Verdict"]  # (text, context) -> the firewall's verdict, nothing recorded


@dataclass(frozen=True)
class Answer:
    text: str
    tokens: int  # completion tokens as the backend counted them


def _short(text: str, n: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1] + "…"


def _json(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except ValueError as e:
        return None, f"answer is not JSON ({e})"


class Checker:
    """Checks assertions for one version. `embed` and `scan` are called only by a test that needs them, so the
    caller passes ones that load the embedder or build the firewall on first use."""

    def __init__(self, embed: Embed, scan: Scan, output_schema: dict[str, Any] | None) -> None:
        self.embed = embed
        self.scan = scan
        self.output_schema = output_schema
        self._checks: dict[str, Callable[[Assertion, Answer], str | None]] = {
            "contains": self._contains,
            "not-contains": self._not_contains,
            "regex": self._regex,
            "is-json": self._is_json,
            "json-schema": self._json_schema,
            "max-tokens": self._max_tokens,
            "similar": self._similar,
            "firewall-clean": self._firewall_clean,
        }

    def check(self, a: Assertion, answer: Answer) -> str | None:
        return self._checks[a.type](a, answer)

    @staticmethod
    def _contains(a: Assertion, ans: Answer) -> str | None:
        return None if a.value in ans.text else f"contains {a.value!r}: not in answer {_short(ans.text)!r}"

    @staticmethod
    def _not_contains(a: Assertion, ans: Answer) -> str | None:
        return None if a.value not in ans.text else f"not-contains {a.value!r}: found in answer"

    @staticmethod
    def _regex(a: Assertion, ans: Answer) -> str | None:
        return None if re.search(a.value, ans.text) else f"regex {a.value!r}: no match in {_short(ans.text)!r}"

    @staticmethod
    def _is_json(a: Assertion, ans: Answer) -> str | None:
        return _json(ans.text)[1]

    def _json_schema(self, a: Assertion, ans: Answer) -> str | None:
        import jsonschema

        doc, err = _json(ans.text)
        if err:
            return err
        schema = a.value if a.value is not None else self.output_schema
        assert schema is not None  # loading refuses a 'json-schema' with neither a value nor an output_schema
        error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(schema)(schema).iter_errors(doc))
        if error is None:
            return None
        at = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return f"json-schema: at {at}: {error.message}"

    @staticmethod
    def _max_tokens(a: Assertion, ans: Answer) -> str | None:
        return None if ans.tokens <= a.value else f"max-tokens {a.value}: answer has {ans.tokens} tokens"

    def _similar(self, a: Assertion, ans: Answer) -> str | None:
        vecs = self.embed([ans.text, a.value])
        cosine = float(vecs[0] @ vecs[1])
        threshold = a.threshold if a.threshold is not None else DEFAULT_SIMILARITY
        return None if cosine >= threshold else f"similar: cosine {cosine:.3f} < {threshold} to {_short(a.value)!r}"

    def _firewall_clean(self, a: Assertion, ans: Answer) -> str | None:
        # the answer is scanned as untrusted text (the "document" context): an answer that would carry an
        # injection or hidden payload onward is not clean
        verdict = self.scan(ans.text, "document")
        if verdict.decision == "allow":
            return None
        why = ", ".join(verdict.categories or verdict.matched_rules)
        detail = f"score {verdict.score:.2f}" + (f"; {why}" if why else "")
        return f"firewall-clean: the firewall says {verdict.decision} ({detail})"
