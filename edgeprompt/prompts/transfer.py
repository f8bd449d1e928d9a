"""Export and import of the registry: a folder that can live in git, optionally with an Ed25519-signed pack.

`export DIR` writes `registry.json` (every version with its content, author, message and time; labels;
protected labels) and one `NAME.yaml` prompt file per prompt (its newest version, for reading and
editing). `--sign KEY` adds `prompts.pack`, a signed pack (edgeprompt.signing) holding the same
`registry.json`. `import DIR` reads, in order of preference: the pack (verified against the trust store),
else `registry.json`, else every `*.yaml` prompt file. Versions are re-hashed on import, so a hand-edited
manifest is refused. An unsigned import only creates labels that do not exist here; moving an existing
label, or one protected here, takes a pack signed by a trusted key (how a coordinator moves protected labels).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from edgeprompt.canonical import sha256_hex
from edgeprompt.errors import UsageError
from edgeprompt.prompts.files import dump, read_file
from edgeprompt.prompts.spec import parse_spec
from edgeprompt.prompts.store import PromptRegistry
from edgeprompt.signing import TrustStore, read_pack, sign_pack

MANIFEST = "registry.json"
PACK = "prompts.pack"
FORMAT = "edgeprompt-prompts"
FORMAT_VERSION = 1


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def manifest(registry: PromptRegistry) -> dict[str, Any]:
    prompts = {}
    for name in registry.names():
        prompts[name] = {
            "versions": [{k: v for k, v in ver.as_dict().items() if k != "name"} for ver in registry.history(name)],
            "labels": registry.labels.of(name),
            "protected": registry.labels.protected(name),
        }
    return {"format": f"{FORMAT}/{FORMAT_VERSION}", "exported_at": time.time(), "prompts": prompts}


def export(registry: PromptRegistry, folder: Path, sign_key: Path | None = None) -> dict[str, Any]:
    doc = manifest(registry)
    data = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in doc["prompts"]:
        _write(folder / f"{name}.yaml", dump(registry.latest(name).spec).encode())
        written.append(f"{name}.yaml")
    _write(folder / MANIFEST, data)
    written.append(MANIFEST)
    key_id = None
    if sign_key is not None:
        pack = sign_pack("prompts", "registry", sha256_hex(data)[:16], {MANIFEST: data}, sign_key)
        _write(folder / PACK, pack)
        written.append(PACK)
        key_id = read_pack(pack, None).key_id
    return {
        "path": str(folder),
        "prompts": len(doc["prompts"]),
        "versions": sum(len(p["versions"]) for p in doc["prompts"].values()),
        "files": written,
        "signed": sign_key is not None,
        "key_id": key_id,
    }


def _load_manifest(data: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise UsageError(f"{where}: not JSON ({e})") from e
    fmt = doc.get("format", "") if isinstance(doc, dict) else ""
    kind, _, ver = str(fmt).partition("/")
    if kind != FORMAT or not ver.isdigit():
        raise UsageError(f"{where}: not an edgeprompt prompt export")
    if int(ver) > FORMAT_VERSION:
        raise UsageError(f"{where}: written in export format {ver} by a newer edgeprompt; upgrade edgeprompt")
    if not isinstance(doc.get("prompts"), dict):
        raise UsageError(f"{where}: 'prompts' must be a mapping")
    manifest: dict[str, Any] = doc  # a mapping: the format check above read a key from it
    return manifest


def _import_prompt(
    registry: PromptRegistry, name: str, entry: Any, where: str, signed_by: str | None, report: dict[str, Any]
) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("versions"), list):
        raise UsageError(f"{where}: prompt '{name}' has no versions list")
    ids = set()
    for v in entry["versions"]:
        at = f"{where}: {name} version {v.get('seq', '?') if isinstance(v, dict) else '?'}"
        if not isinstance(v, dict):
            raise UsageError(f"{at}: not a mapping")
        spec = parse_spec(v.get("content"), at)
        if spec.name != name or spec.content_id() != v.get("version"):
            raise UsageError(f"{at}: its content does not hash to its id; the export was altered")
        pushed = registry.push(
            spec,
            str(v.get("author") or "import"),
            str(v.get("message") or ""),
            float(v.get("created_at") or time.time()),
        )
        ids.add(pushed.version)
        report["versions_created" if pushed.created else "versions_existing"] += 1
    guarded = set(registry.labels.protected(name))
    for label, vid in (entry.get("labels") or {}).items():
        if vid not in ids:
            raise UsageError(f"{where}: label '{label}' of '{name}' points at a version not in the export")
        here = registry.labels.of(name).get(label)
        if here == vid:
            continue
        if signed_by is None and (here is not None or label in guarded):
            report["labels_skipped"].append(f"{name}:{label}")
            continue
        registry.labels.move(name, label, vid, "import", signed_by=signed_by)
        report["labels_moved"].append(f"{name}:{label}")
    for label in entry.get("protected") or []:  # after the moves: protection guards what comes next
        registry.labels.protect(name, str(label))


def import_folder(registry: PromptRegistry, folder: Path, trust: TrustStore) -> dict[str, Any]:
    """Import everything or nothing (one transaction)."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    report: dict[str, Any] = {
        "path": str(folder),
        "source": "",
        "signed_by": None,
        "versions_created": 0,
        "versions_existing": 0,
        "labels_moved": [],
        "labels_skipped": [],
    }
    signed_by = None
    if (folder / PACK).exists():
        pack = read_pack((folder / PACK).read_bytes(), trust)
        if pack.kind != "prompts" or MANIFEST not in pack.files:
            raise UsageError(f"{folder / PACK}: a '{pack.kind}' pack, not a prompt export")
        data, signed_by, report["source"] = pack.files[MANIFEST], pack.key_id, PACK
    elif (folder / MANIFEST).exists():
        data, report["source"] = (folder / MANIFEST).read_bytes(), MANIFEST
    else:
        return _import_files(registry, folder, report)
    report["signed_by"] = signed_by
    doc = _load_manifest(data, str(folder / report["source"]))
    with registry.db.transaction():
        for name, entry in doc["prompts"].items():
            _import_prompt(registry, name, entry, str(folder / report["source"]), signed_by, report)
    return report


def _import_files(registry: PromptRegistry, folder: Path, report: dict[str, Any]) -> dict[str, Any]:
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise UsageError(f"{folder} holds no {PACK}, {MANIFEST} or *.yaml prompt files")
    report["source"] = "yaml"
    parsed = [read_file(p) for p in files]  # every file is checked before anything is stored
    with registry.db.transaction():
        for spec, meta in parsed:
            pushed = registry.push(spec, meta.get("author", "import"), meta.get("message", ""))
            report["versions_created" if pushed.created else "versions_existing"] += 1
    return report
