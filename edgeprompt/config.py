"""Settings: documented defaults, overridden by `config.toml` in the data home.

`Settings` is frozen and passed in; nothing reads a global. Each subsystem owns one section and reads it
with `settings.section(name)`; the defaults and their one-line docs live in `DEFAULTS` below, so
`edgeprompt config show` can print every knob with its meaning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from edgeprompt.errors import ConfigError
from edgeprompt.paths import Paths, write_atomic

# section -> key -> (default, documentation)
DEFAULTS: dict[str, dict[str, tuple[Any, str]]] = {
    "model": {
        "default": ("auto", "model id used when -m is not given; 'auto' = demo if built, else extractive"),
        "backend": ("auto", "auto | mlx | onnx: 'auto' picks mlx on Apple silicon, onnx elsewhere"),
        "threads": (0, "CPU threads for inference; 0 = all physical cores"),
    },
    "generation": {
        "max_tokens": (256, "most tokens an answer may have"),
        "temperature": (0.0, "0 = greedy (deterministic)"),
        "top_p": (1.0, "nucleus sampling mass when temperature > 0"),
        "seed": (0, "sampling seed"),
    },
    "context": {
        "reserve_for_answer": (256, "tokens of the context window kept free for the answer"),
        "summarize_dropped": (True, "summarise turns that no longer fit instead of only dropping them"),
    },
    "trace": {
        "capture_content": (False, "store prompt and answer text in traces (off by default)"),
    },
    "rag": {
        "answer_from_documents": (True, "when documents are indexed, answer from them with citations (or abstain)"),
        "top_k": (5, "numbered sources put into the prompt"),
        "min_relevance": (0.15, "abstain at once when no retrieved chunk is at least this similar (cosine)"),
        "min_evidence": (0.58, "abstain when no sentence of the sources scores this (cosine + word overlap)"),
        "judge": (
            True,
            "abstain unless a sentence answers the asked attribute (the answerability judge), and "
            "answer extractively with the short value; off: quote the best sentences",
        ),
        "candidates": (100, "bit-vector candidates re-ranked exactly per query (more: better recall, slower)"),
        "max_file_mb": (50.0, "files larger than this are skipped"),
        # one pathological file (deeply nested HTML, a zip bomb, a looping PDF) must not stall the whole run
        "parse_timeout_s": (10.0, "a file whose reading takes longer is skipped (0: read in-process, no limits)"),
        "parse_memory_mb": (2048, "memory the file-reading worker may use; a file needing more is skipped"),
        "chunk_chars": (600, "most characters in a chunk (~130 tokens: MiniLM was trained on inputs of <=128)"),
        "overlap_chars": (100, "characters of the previous chunk repeated at the start of the next"),
        # larger groups sort better by length, so batches pad less: 64 -> 256 indexed small files ~25% faster
        "embed_batch": (256, "chunks embedded together across files; a kill redoes at most this much work"),
    },
    "registry": {
        "default_prompt": ("assistant", "prompt the chat pipeline renders when --prompt is not given"),
        "label": ("production", "label the pipeline renders when the prompt reference names none"),
        "template_cache_size": (256, "compiled prompt versions kept in the template cache (LRU)"),
    },
    "observatory": {
        "signals": (
            "auto",
            "auto | on | off: keep each question's and answer's MiniLM embedding (not the text) for "
            "drift and topics; auto = on (the embedder ships in the package)",
        ),
        "keywords": (True, "keep up to 8 keywords of each question (local only) to label topics"),
        "window": ("day", "drift window: day | week"),
        "drift_reference": ("first", "first | previous: compare each window with the first window or the one before"),
        "drift_alpha": (0.01, "drift alarm when the MMD permutation test's p-value is below this …"),
        "drift_min_auc": (0.55, "… and the domain classifier tells the windows apart at least this well (AUC)"),
        "drift_min_samples": (20, "windows with fewer embedded questions are not tested"),
        "drift_max_samples": (200, "questions sampled per window for the drift tests (speed)"),
        "topics": (0, "number of topic clusters; 0 = choose by silhouette"),
        "max_topics": (8, "most topic clusters when choosing automatically"),
        "low_confidence_logprob": (-2.0, "answers whose mean token log-probability is below this are flagged"),
        "watts_per_core": (10.0, "nominal power of one busy CPU core, for the energy estimate without RAPL"),
        "otlp_endpoint": (
            "",
            "OTLP/HTTP JSON traces endpoint (e.g. http://127.0.0.1:4318/v1/traces); empty = no live export",
        ),
    },
    "cache": {
        "enabled": (True, "reuse answers: exact repeats, and near-duplicate questions that pass every guard"),
        "semantic": (True, "also serve near-duplicate questions (MiniLM similarity + content gate)"),
        "semantic_threshold": (
            -1.0,
            "cosine a near-duplicate needs; -1 = the calibrated value (the verifier's floor when the verifier is on)",
        ),
        "verifier": (True, "a near-duplicate is served only if the pair verifier says both ask the same thing"),
        "exact_ttl_s": (604800.0, "seconds an exact answer may be served (default 7 days)"),
        "semantic_ttl_s": (604800.0, "seconds an answer may be served to a near-duplicate question"),
        "store_sampled": (False, "also keep answers generated with temperature > 0"),
        "fallback_max_age_s": (2592000.0, "oldest cached answer served when the model cannot load or run"),
        "prefix": (True, "reuse the KV state of the longest shared token prefix across turns (MLX, onnx)"),
        "prefix_budget_mb": (512, "memory for in-memory prefix KV states (MLX caches, onnx live generators; LRU)"),
        "prefix_disk": (True, "MLX: save hot system-prompt KV states to disk (mlx-lm prompt-cache files)"),
        "prefix_disk_budget_mb": (1024, "disk for saved prefix KV states"),
    },
    "federation": {
        "epsilon_budget": (8.0, "most differential-privacy loss (epsilon, per model) federated training may spend"),
        "delta": (1e-5, "the delta at which epsilon is reported and capped"),
        "supernode_port": (9094, "local port of the SuperNode's runtime API (`federation join`)"),
    },
    "routing": {
        "enabled": (True, "pick the model for each request by its task tag when -m is not given"),
        "power": ("auto", "auto | ac | battery: 'auto' reads the battery (psutil, else /sys/class/power_supply)"),
        "low_charge_percent": (30, "below this charge, prefer smaller models even when plugged in"),
        "custom_threshold": (0.45, "similarity a request needs to a custom tag's model descriptions to route there"),
        "max_chars": (320, "characters of a long request the classifier reads (its start and its end)"),
        "record_text": (
            True,
            "keep the routed text with each decision, so thumbs turn it into training data (local only)",
        ),
    },
    "tools": {
        "allowed_folders": ([], "folders the read_file and write_file tools may use (nothing outside them)"),
        "max_file_bytes": (200000, "most bytes read_file returns from one file"),
        "max_calls": (4, "most tool calls a model may make for one request"),
        "prompting": (
            "auto",
            "auto | always | never: prompt the model for tool calls and plans "
            "(auto: not the demo, extractive or echo models)",
        ),
    },
    "plans": {
        "max_steps": (8, "most steps in a plan"),
        "timeout_s": (600.0, "a plan stops after this many seconds, keeping what it has"),
        "step_max_tokens": (512, "most tokens a model writes in one plan step"),
    },
    "serve": {
        "host": ("127.0.0.1", "address `edgeprompt serve` listens on (another than loopback needs api_key)"),
        "port": (8765, "port `edgeprompt serve` listens on"),
        "api_key": ("", "key clients must send (Authorization: Bearer KEY); empty: none, loopback only"),
        "max_body_bytes": (1000000, "largest request body the API accepts (413 past it)"),
        "queue_size": (32, "requests waiting for the model at most (429 with Retry-After past it)"),
        "save_exchanges": (True, "keep each API exchange in a session, as `ask` does"),
    },
    "firewall": {
        "enabled": (True, "scan inputs and retrieved chunks, isolate the prompt, validate answers, audit decisions"),
        "flag_threshold": (0.5, "input score at which a turn is flagged (answered with a notice)"),
        "block_threshold": (0.9, "input score at which a turn is blocked (high confidence only)"),
        # above the input threshold: classifier-only scores of 0.5-0.6 on prose such as "dogs are not allowed"
        # are noise in documents; injected instructions also match rules and score higher
        "document_flag_threshold": (0.6, "score at which a retrieved chunk is flagged"),
        "document_block_threshold": (0.9, "score at which a retrieved chunk is blocked"),
        "flagged_chunks": ("exclude", "exclude | isolate: keep flagged chunks out of the prompt, or in it marked"),
        "audit_content": ("redacted", "redacted | hash: the audit log keeps PII-redacted text, or only its hash"),
        "audit_allowed_chunks": (False, "also audit chunks that were allowed (every chunk of every document)"),
        "stream_holdback": (64, "characters of a streamed answer held back so redaction can finish"),
        "policy_email": ("redact", "allow | redact | block for e-mail addresses in answers"),
        "policy_phone": ("redact", "allow | redact | block for phone numbers in answers"),
        "policy_credit_card": ("redact", "allow | redact | block for payment card numbers (Luhn-checked)"),
        "policy_iban": ("redact", "allow | redact | block for IBANs (mod-97-checked)"),
        "policy_us_ssn": ("redact", "allow | redact | block for US social security numbers"),
        "policy_ip_address": ("redact", "allow | redact | block for IP addresses (loopback is never flagged)"),
        "policy_secret": ("redact", "allow | redact | block for API keys, tokens, private keys, passwords"),
        "policy_canary": ("block", "allow | redact | block when the answer leaks the system section's canary"),
        "policy_system_prompt": ("block", "allow | redact | block when the answer repeats the system prompt"),
        "policy_markdown_image": ("redact", "allow | redact | block for remote markdown/HTML images"),
        "policy_exfil_link": ("redact", "allow | redact | block for links whose URL carries data"),
        "policy_schema": ("block", "allow | redact | block for answers that fail a requested JSON schema"),
    },
}


def _check_type(section: str, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"[{section}] {key} must be {type(default).__name__}, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    paths: Paths
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def section(self, name: str) -> Mapping[str, Any]:
        """Defaults of `name` merged with the file's values."""
        merged = {k: d for k, (d, _) in DEFAULTS.get(name, {}).items()}
        merged.update(self.values.get(name, {}))
        return MappingProxyType(merged)

    def get(self, dotted: str) -> Any:
        section, _, key = dotted.partition(".")
        return self.section(section)[key]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        names = list(DEFAULTS) + [n for n in self.values if n not in DEFAULTS]
        return {n: dict(self.section(n)) for n in names}


def load(paths: Paths) -> Settings:
    """Read `config.toml` if present; unknown keys in known sections are errors (typos must not pass)."""
    values: dict[str, dict[str, Any]] = {}
    if paths.config.exists():
        try:
            raw = tomllib.loads(paths.config.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{paths.config}: {e}") from e
        for section, table in raw.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{paths.config}: '{section}' must be a [section]")
            known = DEFAULTS.get(section)
            clean: dict[str, Any] = {}
            for key, value in table.items():
                if known is not None:
                    if key not in known:
                        raise ConfigError(f"{paths.config}: unknown setting [{section}] {key}")
                    value = _check_type(section, key, value, known[key][0])
                clean[key] = value
            values[section] = clean
    return Settings(paths=paths, values=MappingProxyType(values))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def default_file_text() -> str:
    """A config.toml with every default written out and documented."""
    lines = ["# edgeprompt settings. Every key is shown with its default; edit and keep what you change.", ""]
    for section, keys in DEFAULTS.items():
        lines.append(f"[{section}]")
        for key, (default, doc) in keys.items():
            lines.append(f"# {doc}")
            lines.append(f"{key} = {_toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


def write_default(path: Path) -> bool:
    """Write the documented defaults if there is no file yet; never overwrite the user's."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, default_file_text().encode("utf-8"))  # a kill mid-write must not leave half a file
    return True
