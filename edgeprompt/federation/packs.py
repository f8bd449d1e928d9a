"""Install a federated model pack: verify its signature, check it loads as the runtime would, swap it in.

The pack's `classifier.onnx` and `classifier.json` land in `<data home>/models/<task>/`, where the
firewall's and router's loaders look first. Each file is written to a temporary name in the same
folder, fsynced, and renamed over the old one, so a crash leaves the old model or the new one, never
half a file. The previous model is kept as `classifier.previous.*`. A language-model adapter pack
(`lm-adapter`) becomes a derived model `<id>-lora` instead (edgeprompt.federation.adapters).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgeprompt.catalog.cards import Catalog
from edgeprompt.errors import SignatureError, UsageError
from edgeprompt.federation import adapters, lora
from edgeprompt.federation.heads import head_spec, task_for_pack_kind
from edgeprompt.federation.ledger import PrivacyLedger
from edgeprompt.paths import Paths, write_atomic
from edgeprompt.signing import Pack, TrustStore, read_pack
from edgeprompt.store.db import Database

FILES = ("classifier.onnx", "classifier.json")


@dataclass(frozen=True)
class Installed:
    task: str
    folder: str
    name: str
    version: str
    key_id: str
    meta: dict[str, Any]
    model: str = ""  # for a language-model adapter: the derived model id to `ask -m` with

    def as_dict(self) -> dict[str, Any]:
        out = {
            "task": self.task,
            "folder": self.folder,
            "name": self.name,
            "version": self.version,
            "key_id": self.key_id,
            "meta": self.meta,
        }
        return {**out, "model": self.model} if self.model else out


def verify(data: bytes, trust: TrustStore) -> tuple[Pack, str, dict[str, Any]]:
    """(pack, task, classifier description) if the pack is signed by a trusted key and its model loads."""
    return verify_head(read_pack(data, trust))


def verify_head(pack: Pack) -> tuple[Pack, str, dict[str, Any]]:
    task = task_for_pack_kind(pack.kind)
    missing = [f for f in FILES if f not in pack.files]
    if missing:
        raise UsageError(f"the {pack.kind} pack lacks {', '.join(missing)}")
    try:
        desc = json.loads(pack.files["classifier.json"])
    except ValueError as e:
        raise SignatureError(f"classifier.json is not JSON ({e})") from e
    if not isinstance(desc, dict):
        raise UsageError("classifier.json must be a JSON object")
    head_spec(task).validate(pack.files["classifier.onnx"], desc)
    return pack, task, desc


def install(
    paths: Paths,
    db: Database,
    data: bytes,
    trust: TrustStore,
    catalog: Catalog | None = None,
    onnx_precision: str | None = None,
) -> Installed:
    pack = read_pack(data, trust)
    if pack.kind == adapters.PACK_KIND:
        return install_adapter(paths, db, pack, catalog or Catalog(paths.models), onnx_precision)
    pack, task, _ = verify_head(pack)
    folder = head_spec(task).folder(paths.models)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        current = folder / name
        if current.exists():
            write_atomic(folder / name.replace("classifier.", "classifier.previous."), current.read_bytes())
    # the description goes last: a loader that sees it sees the matching model
    for name in FILES:
        write_atomic(folder / name, pack.files[name])
    _log_import(db, task, pack)
    return Installed(task, str(folder), pack.name, pack.version, pack.key_id, pack.meta)


def install_adapter(paths: Paths, db: Database, pack: Pack, catalog: Catalog, onnx_precision: str | None) -> Installed:
    """A language-model adapter: a derived model `<id>-lora` for both backends (edgeprompt.federation.adapters)."""
    card, folder = adapters.install(paths.models, catalog, pack, onnx_precision)
    task = lora.ledger_key(str(pack.meta.get("lm_model")))
    _log_import(db, task, pack)
    return Installed(task, str(folder), pack.name, pack.version, pack.key_id, pack.meta, card.id)


def _log_import(db: Database, task: str, pack: Pack) -> None:
    PrivacyLedger(db).log_event(
        "imported",
        task,
        str(pack.meta.get("run_id", "")),
        None,
        {"rounds": float(pack.meta.get("rounds", 0) or 0), "clients": float(pack.meta.get("clients", 0) or 0)},
    )
