"""What a prompt version holds, validated from a YAML/JSON document; its canonical content and content id.

A `PromptSpec` is the immutable content of one version: system text, user template, typed variables with
defaults, generation parameters, an optional output JSON schema and a test suite. Its id is a short
SHA-256 of the canonical JSON of that content (name included), so identical content is the same version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from edgeprompt.canonical import canonical_json, sha256_hex
from edgeprompt.errors import UsageError

FILE_FORMAT = 1  # the `edgeprompt:` key of prompt files; a larger number was written by a newer edgeprompt
ID_CHARS = 16
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VAR_TYPES = ("string", "integer", "number", "boolean", "list", "object")
ASSERT_TYPES = (
    "contains",
    "not-contains",
    "regex",
    "is-json",
    "json-schema",
    "max-tokens",
    "similar",
    "firewall-clean",
)
DEFAULT_SIMILARITY = 0.8
CONTENT_KEYS = ("name", "description", "system", "template", "variables", "params", "output_schema", "tests")
FILE_KEYS = frozenset((*CONTENT_KEYS, "edgeprompt", "author", "message"))
# param -> (kind, check, what the check means)
PARAMS: dict[str, tuple[str, Any, str]] = {
    "max_tokens": ("integer", lambda v: v >= 1, "at least 1"),
    "temperature": ("number", lambda v: v >= 0, ">= 0"),
    "top_p": ("number", lambda v: 0 < v <= 1, "in (0, 1]"),
    "seed": ("integer", lambda v: True, ""),
    "stop": ("list", lambda v: all(isinstance(s, str) and s for s in v), "a list of non-empty strings"),
}
_MISSING: Any = object()


def type_ok(kind: str, value: Any) -> bool:
    """JSON-ish type check; booleans are not numbers here (YAML `yes` must not pass as 1)."""
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def type_name(value: Any) -> str:
    for kind, py in (
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("list", list),
        ("object", dict),
    ):
        if isinstance(value, py):
            return kind
    return "null" if value is None else type(value).__name__


def check_name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."  # one readable line
        raise UsageError(f"{what} {shown} is not valid: letters, digits, '.', '_' or '-', at most 64 characters")
    return value


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    default: Any = _MISSING
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if not self.required:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Assertion:
    type: str
    value: Any = None
    threshold: float | None = None

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.value is not None:
            out["value"] = self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


@dataclass(frozen=True)
class Case:
    """One test of a version's suite: variables to render with and assertions on the model's answer."""

    vars: dict[str, Any]
    asserts: tuple[Assertion, ...]
    name: str = ""

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"vars": self.vars, "assert": [a.content() for a in self.asserts]}
        if self.name:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class PromptSpec:
    name: str
    template: str
    system: str = ""
    description: str = ""
    variables: tuple[Variable, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    tests: tuple[Case, ...] = ()

    def content(self) -> dict[str, Any]:
        """The canonical content: exactly what the id is computed over and what is stored."""
        return {
            "name": self.name,
            "description": self.description,
            "system": self.system,
            "template": self.template,
            "variables": {v.name: v.content() for v in self.variables},
            "params": dict(self.params),
            "output_schema": self.output_schema,
            "tests": [c.content() for c in self.tests],
        }

    def content_id(self) -> str:
        return sha256_hex(canonical_json(self.content()))[:ID_CHARS]

    def file_dict(self) -> dict[str, Any]:
        """The YAML prompt-file form (omits empty parts so files stay short)."""
        out: dict[str, Any] = {"edgeprompt": FILE_FORMAT}
        for k, v in self.content().items():
            if v not in (None, "", {}, []) or k in ("name", "template"):
                out[k] = v
        return out


def _str(where: str, doc: dict[str, Any], key: str, required: bool = False) -> str:
    value = doc.get(key, _MISSING)
    if value is _MISSING or value is None:
        if required:
            raise UsageError(f"{where}: '{key}' is required")
        return ""
    if not isinstance(value, str):
        raise UsageError(f"{where}: '{key}' must be a string, got {type_name(value)}")
    return value


def _variables(where: str, raw: Any) -> tuple[Variable, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: 'variables' must be a mapping of name to {{type: …}}")
    out = []
    for name, spec in raw.items():
        check_name(f"{where}: variable", name)
        if isinstance(spec, str):  # shorthand `name: string`
            spec = {"type": spec}
        if not isinstance(spec, dict) or spec.get("type") not in VAR_TYPES:
            raise UsageError(f"{where}: variable '{name}' needs a type, one of {', '.join(VAR_TYPES)}")
        unknown = set(spec) - {"type", "default", "description"}
        if unknown:
            raise UsageError(f"{where}: variable '{name}' has unknown key '{sorted(unknown)[0]}'")
        default = spec.get("default", _MISSING)
        if default is not _MISSING and not type_ok(spec["type"], default):
            raise UsageError(
                f"{where}: the default of variable '{name}' must be {spec['type']}, got {type_name(default)}"
            )
        desc = spec.get("description", "")
        if not isinstance(desc, str):
            raise UsageError(f"{where}: the description of variable '{name}' must be a string")
        if spec["type"] == "number" and default is not _MISSING:
            default = float(default)  # 1 and 1.0 are one value: one content id
        out.append(Variable(name, spec["type"], default, desc))
    return tuple(out)


def _params(where: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: 'params' must be a mapping")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in PARAMS:
            raise UsageError(f"{where}: unknown generation parameter '{key}' (known: {', '.join(PARAMS)})")
        kind, ok, meaning = PARAMS[key]
        if not type_ok(kind, value) or not ok(value):
            raise UsageError(f"{where}: param '{key}' must be {kind}{' ' + meaning if meaning else ''}, got {value!r}")
        out[key] = float(value) if kind == "number" else value
    return out


def _assertion(where: str, raw: Any) -> Assertion:
    if not isinstance(raw, dict) or raw.get("type") not in ASSERT_TYPES:
        raise UsageError(f"{where}: each assertion needs a type, one of {', '.join(ASSERT_TYPES)}")
    kind = raw["type"]
    unknown = set(raw) - {"type", "value", "threshold"}
    if unknown:
        raise UsageError(f"{where}: assertion '{kind}' has unknown key '{sorted(unknown)[0]}'")
    # what YAML gave: checked below, key by key
    value: Any = raw.get("value")
    threshold: Any = raw.get("threshold")
    if kind in ("contains", "not-contains", "regex", "similar") and not (isinstance(value, str) and value):
        raise UsageError(f"{where}: assertion '{kind}' needs a non-empty string value")
    if kind == "regex":
        try:
            re.compile(value)
        except re.error as e:
            raise UsageError(f"{where}: assertion regex {value!r} does not compile: {e}") from e
    if kind == "max-tokens" and not (type_ok("integer", value) and value >= 1):
        raise UsageError(f"{where}: assertion 'max-tokens' needs a positive integer value")
    if kind == "json-schema" and value is not None:
        _check_schema(where, value)
    if kind in ("is-json", "firewall-clean") and value is not None:
        raise UsageError(f"{where}: assertion '{kind}' takes no value")
    if threshold is not None:
        if kind != "similar" or not type_ok("number", threshold) or not -1 <= threshold <= 1:
            raise UsageError(f"{where}: 'threshold' is a number in [-1, 1] and only for 'similar'")
        threshold = float(threshold)
    return Assertion(kind, value, threshold)


def _check_schema(where: str, schema: Any) -> dict[str, Any]:
    import jsonschema

    if not isinstance(schema, dict):
        raise UsageError(f"{where}: a JSON schema must be a mapping")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise UsageError(f"{where}: invalid JSON schema: {e.message}") from e
    return schema


def _tests(where: str, raw: Any, variables: tuple[Variable, ...], has_schema: bool) -> tuple[Case, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UsageError(f"{where}: 'tests' must be a list")
    out = []
    for i, t in enumerate(raw, 1):
        at = f"{where}: test {i}"
        if not isinstance(t, dict):
            raise UsageError(f"{at} must be a mapping with vars and assert")
        unknown = set(t) - {"vars", "assert", "name"}
        if unknown:
            raise UsageError(f"{at} has unknown key '{sorted(unknown)[0]}'")
        values = t.get("vars") or {}
        if not isinstance(values, dict):
            raise UsageError(f"{at}: 'vars' must be a mapping")
        check_values(at, variables, values)
        asserts = t.get("assert") or []
        if not isinstance(asserts, list) or not asserts:
            raise UsageError(f"{at}: 'assert' must be a non-empty list")
        parsed = tuple(_assertion(at, a) for a in asserts)
        if any(a.type == "json-schema" and a.value is None for a in parsed) and not has_schema:
            raise UsageError(f"{at}: 'json-schema' without a value needs the prompt's output_schema")
        name = t.get("name", "")
        if not isinstance(name, str):
            raise UsageError(f"{at}: 'name' must be a string")
        out.append(Case(dict(values), parsed, name))
    return tuple(out)


def check_values(where: str, variables: tuple[Variable, ...], given: dict[str, Any]) -> dict[str, Any]:
    """Given values merged over defaults; unknown, missing or mistyped variables are one-line errors."""
    declared = {v.name: v for v in variables}
    for key in given:
        if key not in declared:
            known = ", ".join(declared) or "none"
            raise UsageError(f"{where}: unknown variable '{key}' (declared: {known})")
    out: dict[str, Any] = {}
    for v in variables:
        if v.name in given:
            value = given[v.name]
            if not type_ok(v.type, value):
                raise UsageError(f"{where}: variable '{v.name}' must be {v.type}, got {type_name(value)}")
            out[v.name] = value
        elif v.required:
            raise UsageError(f"{where}: missing variable '{v.name}' ({v.type})")
        else:
            out[v.name] = v.default
    return out


def parse_spec(doc: Any, where: str) -> PromptSpec:
    """Validate a prompt document (a parsed YAML file or stored content); every problem is one line."""
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: a prompt file is a mapping with name and template")
    fmt = doc.get("edgeprompt", FILE_FORMAT)
    if not type_ok("integer", fmt) or fmt < 1:
        raise UsageError(f"{where}: 'edgeprompt' (the file format) must be a positive integer")
    if fmt > FILE_FORMAT:
        raise UsageError(
            f"{where}: written for prompt-file format {fmt} by a newer edgeprompt "
            f"(this one reads format {FILE_FORMAT}); upgrade edgeprompt"
        )
    unknown = set(doc) - FILE_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(FILE_KEYS))})")
    name = check_name(f"{where}: prompt name", doc.get("name"))
    template = _str(where, doc, "template", required=True)
    schema = doc.get("output_schema")
    if schema is not None:
        _check_schema(where, schema)
    variables = _variables(where, doc.get("variables"))
    spec = PromptSpec(
        name=name,
        template=template,
        system=_str(where, doc, "system"),
        description=_str(where, doc, "description"),
        variables=variables,
        params=_params(where, doc.get("params")),
        output_schema=schema,
        tests=_tests(where, doc.get("tests"), variables, schema is not None),
    )
    from edgeprompt.prompts.templates import check_declared

    check_declared(where, spec)
    return spec
