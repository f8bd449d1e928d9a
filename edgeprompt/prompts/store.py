"""`PromptRegistry(db)`: push immutable versions, resolve references, render through the template cache.

References: `NAME` (the default label), `NAME:LABEL`, `NAME@VERSION` where VERSION is the per-prompt
sequence number (`3`), a prefix of the content id (`1f0c9a`), or a label name.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import NotFoundError, UsageError
from edgeprompt.prompts.labels import Labels
from edgeprompt.prompts.spec import PromptSpec, check_name, check_values, parse_spec
from edgeprompt.prompts.templates import TemplateCache, render_text
from edgeprompt.store.db import Database

if TYPE_CHECKING:
    from edgeprompt.backends.base import GenerationParams

DEFAULT_LABEL = "production"
MIN_ID_PREFIX = 4


@dataclass(frozen=True)
class Version:
    id: str
    name: str
    seq: int
    spec: PromptSpec
    author: str
    message: str
    created_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.id,
            "seq": self.seq,
            "author": self.author,
            "message": self.message,
            "created_at": self.created_at,
            "content": self.spec.content(),
        }


@dataclass(frozen=True)
class PushResult:
    name: str
    version: str
    seq: int
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "seq": self.seq, "created": self.created}


@dataclass(frozen=True)
class Rendered:
    """A prompt ready for a model: what to send, and which exact version (and label, A/B arm) produced it."""

    name: str
    version: str
    seq: int
    label: str | None
    system: str
    user: str
    params: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    arm: str | None = None  # "a" | "b" while an A/B experiment routes this request
    experiment: int | None = None

    def trace_attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "edgeprompt.prompt.name": self.name,
            "edgeprompt.prompt.version": self.version,
            "edgeprompt.prompt.seq": self.seq,
            "edgeprompt.prompt.label": self.label,
        }
        if self.arm is not None:
            out.update({"edgeprompt.prompt.ab.arm": self.arm, "edgeprompt.prompt.ab.experiment": self.experiment})
        return out

    def generation(self, base: GenerationParams, overrides: dict[str, Any] | None = None) -> GenerationParams:
        """The version's params over `base` (settings), then what the user set on the command line."""
        merged = {**self.params, **(overrides or {})}
        if "stop" in merged:
            merged["stop"] = tuple(merged["stop"])
        return replace(base, **merged)


@dataclass(frozen=True)
class Ref:
    name: str
    version: str | None = None
    label: str | None = None


def parse_ref(text: str) -> Ref:
    """`NAME`, `NAME@VERSION` or `NAME:LABEL`."""
    if "@" in text:
        name, _, version = text.partition("@")
        if not version:
            raise UsageError(f"'{text}': nothing after '@' (want NAME@VERSION)")
        return Ref(check_name("prompt name", name), version=version)
    if ":" in text:
        name, _, label = text.partition(":")
        return Ref(check_name("prompt name", name), label=check_name("label", label))
    return Ref(check_name("prompt name", text))


class PromptRegistry:
    def __init__(
        self, db: Database, cache_size: int = 256, default_prompt: str = "assistant", default_label: str = DEFAULT_LABEL
    ) -> None:
        self.db = db
        self.labels = Labels(db)
        self.templates = TemplateCache(cache_size)
        self.default_prompt = default_prompt
        self.default_label = default_label
        self._versions: dict[str, Version] = {}  # immutable rows: a cached one is never stale
        self._lock = threading.Lock()
        self._defaults_ready = False

    # -- versions -----------------------------------------------------------------------------------
    def push(self, spec: PromptSpec, author: str, message: str = "", created_at: float | None = None) -> PushResult:
        """Store a version; identical content returns the existing version (created=False)."""
        vid = spec.content_id()
        with self.db.transaction() as c:
            row = c.execute("SELECT seq FROM prompt_versions WHERE id = ?", (vid,)).fetchone()
            if row is not None:
                return PushResult(spec.name, vid, int(row[0]), False)
            now = time.time()
            c.execute("INSERT OR IGNORE INTO prompts(name, created_at) VALUES (?, ?)", (spec.name, now))
            seq = int(
                c.execute(
                    "SELECT coalesce(max(seq), 0) + 1 FROM prompt_versions WHERE prompt = ?", (spec.name,)
                ).fetchone()[0]
            )
            c.execute(
                "INSERT INTO prompt_versions(id, prompt, seq, content, author, message, created_at) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    vid,
                    spec.name,
                    seq,
                    json.dumps(spec.content(), ensure_ascii=False, sort_keys=True),
                    author,
                    message,
                    created_at if created_at is not None else now,
                ),
            )
        return PushResult(spec.name, vid, seq, True)

    def get(self, version_id: str) -> Version:
        cached = self._versions.get(version_id)
        if cached is not None:
            return cached
        row = self.db.query_one("SELECT * FROM prompt_versions WHERE id = ?", (version_id,))
        if row is None:
            raise NotFoundError(f"prompt version '{version_id}'")
        spec = parse_spec(json.loads(row["content"]), f"stored version {version_id}")
        v = Version(row["id"], row["prompt"], row["seq"], spec, row["author"], row["message"], row["created_at"])
        with self._lock:
            if len(self._versions) >= 4 * self.templates.size:
                self._versions.clear()
            self._versions[version_id] = v
        return v

    def exists(self, name: str) -> bool:
        return self.db.query_one("SELECT 1 FROM prompts WHERE name = ?", (name,)) is not None

    def require(self, name: str) -> None:
        if not self.exists(name):
            raise NotFoundError(f"prompt '{name}'; see `edgeprompt prompts list`")

    def resolve(self, name: str, token: str) -> Version:
        """A version of `name` by sequence number, content-id prefix or label."""
        self.require(name)
        if token.startswith(":"):
            return self.get(self.labels.target(name, token[1:]))
        if token.isdigit():
            row = self.db.query_one("SELECT id FROM prompt_versions WHERE prompt = ? AND seq = ?", (name, int(token)))
            if row is not None:
                return self.get(row[0])
        if len(token) >= MIN_ID_PREFIX and all(ch in "0123456789abcdef" for ch in token.lower()):
            rows = self.db.query(
                "SELECT id FROM prompt_versions WHERE prompt = ? AND id LIKE ? LIMIT 2", (name, token.lower() + "%")
            )
            if len(rows) > 1:
                raise UsageError(f"version prefix '{token}' of '{name}' is ambiguous; give more characters")
            if rows:
                return self.get(rows[0][0])
        if token in self.labels.of(name):
            return self.get(self.labels.target(name, token))
        raise NotFoundError(f"version '{token}' of prompt '{name}'; see `edgeprompt prompts history {name}`")

    def lookup(self, ref: str | Ref) -> tuple[Version, str | None]:
        """The version a reference names, and the label it came through (None when pinned)."""
        r = parse_ref(ref) if isinstance(ref, str) else ref
        if r.version is not None:
            return self.resolve(r.name, r.version), None
        label = r.label or self.default_label
        return self.get(self.labels.target(r.name, label)), label

    def history(self, name: str) -> list[Version]:
        self.require(name)
        rows = self.db.query("SELECT id FROM prompt_versions WHERE prompt = ? ORDER BY seq", (name,))
        return [self.get(r[0]) for r in rows]

    def latest(self, name: str) -> Version:
        return self.history(name)[-1]

    def names(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT name FROM prompts ORDER BY name")]

    def summary(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            latest = self.latest(name)
            labels = {k: self.get(v).seq for k, v in self.labels.of(name).items()}
            out.append(
                {
                    "name": name,
                    "description": latest.spec.description,
                    "versions": latest.seq,
                    "latest": latest.id,
                    "labels": labels,
                    "protected": self.labels.protected(name),
                }
            )
        return out

    # -- rendering ----------------------------------------------------------------------------------
    def render_version(
        self,
        version: Version,
        values: dict[str, Any] | None = None,
        label: str | None = None,
        arm: str | None = None,
        experiment: int | None = None,
    ) -> Rendered:
        where = f"{version.name}@{version.seq}"
        merged = check_values(where, version.spec.variables, values or {})
        compiled = self.templates.get(version.id, version.spec)
        system = render_text(where + " system", compiled.system, merged) if version.spec.system else ""
        user = render_text(where, compiled.user, merged)
        return Rendered(
            version.name,
            version.id,
            version.seq,
            label,
            system,
            user,
            dict(version.spec.params),
            version.spec.output_schema,
            arm,
            experiment,
        )

    def render(self, name: str, label: str = DEFAULT_LABEL, values: dict[str, Any] | None = None) -> Rendered:
        """The seam: render the version `label` points at."""
        return self.render_version(self.get(self.labels.target(name, label)), values, label)

    def for_request(self, ref: str | None, session_id: str | None, values: dict[str, Any]) -> Rendered:
        """What the pipeline renders: the default prompt unless one is named; an active A/B test picks the arm."""
        from edgeprompt.prompts.ab import Experiments

        r = parse_ref(ref) if ref else Ref(self.default_prompt)
        if r.name == self.default_prompt:
            self.ensure_default()
        if r.version is not None:
            return self.render_version(self.resolve(r.name, r.version), values)
        label = r.label or self.default_label
        exp = Experiments(self.db).active(r.name)
        if exp is not None and exp.label == label and session_id:
            arm, vid = exp.arm_for(session_id)
            return self.render_version(self.get(vid), values, label, arm, exp.id)
        return self.render(r.name, label, values)

    def ensure_default(self) -> None:
        """Push the shipped assistant prompt and label it on first use (once per registry object)."""
        if self._defaults_ready:
            return
        from edgeprompt.prompts.files import shipped_default

        spec = shipped_default(self.default_prompt)
        if spec is not None and self.default_label not in self.labels.of(self.default_prompt):
            with self.db.transaction():
                pushed = self.push(spec, "edgeprompt", "shipped default")
                self.labels.move(spec.name, self.default_label, pushed.version, "install")
        self._defaults_ready = True
