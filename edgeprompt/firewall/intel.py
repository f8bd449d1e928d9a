"""Threat-intelligence packs: the rule pack and the classifier, signed with Ed25519 (edgeprompt.signing).

`export` signs what this laptop runs now; `install` verifies the signature and the signer's trust,
then checks that the contents load (the rules compile, the model runs with this featurizer) before
anything is written, so a refused pack changes nothing. Installed files live in
`<home>/models/firewall/` and take precedence over the shipped ones.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprompt.errors import UsageError
from edgeprompt.firewall.classifier import Classifier
from edgeprompt.firewall.rules import load_pack, parse_pack, shipped_dir
from edgeprompt.paths import Paths, write_atomic
from edgeprompt.signing import Pack, TrustStore, read_pack, sign_pack
from edgeprompt.store.db import Database

KINDS = {"firewall-rules": ("rules.toml",), "firewall-model": ("classifier.onnx", "classifier.json")}


@dataclass(frozen=True)
class InstalledPack:
    kind: str
    name: str
    version: str
    key_id: str
    sha256: str
    files: list[str]
    installed_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "key_id": self.key_id,
            "sha256": self.sha256,
            "files": self.files,
            "installed_at": self.installed_at,
        }


def _current_file(paths: Paths, name: str) -> Path:
    installed = paths.models / "firewall" / name
    return installed if installed.is_file() else shipped_dir() / name


def export(paths: Paths, kind: str, key_path: Path, name: str | None = None, version: str | None = None) -> bytes:
    """A signed pack of the rules or the classifier this data home uses now."""
    if kind not in KINDS:
        raise UsageError(f"unknown pack kind '{kind}' (known: {', '.join(KINDS)})")
    files = {f: _current_file(paths, f).read_bytes() for f in KINDS[kind]}
    meta: dict[str, Any] = {}
    if kind == "firewall-rules":
        pack = load_pack(paths.models)
        name, version = name or pack.name, version or pack.version
        meta = {"rules": len(pack.rules)}
    else:
        desc = json.loads(files["classifier.json"])
        version = version or str(desc.get("trained", {}).get("date", "0"))
        meta = {"featurizer": desc.get("featurizer"), "dim": desc.get("dim")}
    return sign_pack(kind, name or kind, version or "0", files, key_path, meta)


def verify(data: bytes, trust: TrustStore) -> Pack:
    """Signature, trust and contents; raises before anything is written."""
    pack = read_pack(data, trust)
    want = KINDS.get(pack.kind)
    if want is None:
        raise UsageError(f"a {pack.kind} pack is not a firewall threat-intel pack (kinds: {', '.join(KINDS)})")
    missing = [f for f in want if f not in pack.files]
    if missing:
        raise UsageError(f"the {pack.kind} pack lacks {', '.join(missing)}")
    if pack.kind == "firewall-rules":
        try:
            text = pack.files["rules.toml"].decode("utf-8")
        except UnicodeDecodeError as e:
            raise UsageError("rules.toml in the pack is not UTF-8") from e
        parse_pack(text, f"pack {pack.name} {pack.version}")
    else:
        try:
            desc = json.loads(pack.files["classifier.json"])
        except ValueError as e:
            raise UsageError(f"classifier.json in the pack is not JSON ({e})") from e
        Classifier.from_bytes(pack.files["classifier.onnx"], desc, origin="pack")
    return pack


def install(paths: Paths, db: Database, data: bytes, trust: TrustStore) -> InstalledPack:
    pack = verify(data, trust)
    folder = paths.models / "firewall"
    folder.mkdir(parents=True, exist_ok=True)
    names = list(KINDS[pack.kind])
    digest = hashlib.sha256(data).hexdigest()
    now = time.time()
    with db.transaction() as c:  # the record and the files land together: a failed write rolls the row back
        c.execute(
            "INSERT INTO firewall_intel_packs(kind, name, version, key_id, sha256, files, meta, installed_at) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (
                pack.kind,
                pack.name,
                pack.version,
                pack.key_id,
                digest,
                json.dumps(names),
                json.dumps(pack.meta, sort_keys=True),
                now,
            ),
        )
        for name in sorted(names, key=lambda n: n.endswith(".json")):  # the description last
            write_atomic(folder / name, pack.files[name])
    return InstalledPack(pack.kind, pack.name, pack.version, pack.key_id, digest, names, now)


def installed(db: Database) -> list[InstalledPack]:
    rows = db.query("SELECT * FROM firewall_intel_packs ORDER BY id")
    return [
        InstalledPack(
            r["kind"], r["name"], r["version"], r["key_id"], r["sha256"], json.loads(r["files"]), r["installed_at"]
        )
        for r in rows
    ]
