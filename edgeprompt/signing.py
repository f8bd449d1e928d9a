"""Ed25519-signed packs: threat-intel rule/model packs, prompt exports and federated model packs.

A pack is one JSON document: kind, name, version, files (base64), metadata, the signer's public key,
and a signature over the canonical JSON of everything else. A pack installs only if the signature
verifies and the signer's key is in this data home's trust store.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprompt.canonical import canonical_json, sha256_hex
from edgeprompt.errors import SignatureError, UntrustedKeyError, UsageError

FORMAT = "edgeprompt-pack/1"


@dataclass(frozen=True)
class Pack:
    kind: str  # e.g. firewall-rules, firewall-model, prompts, router-model
    name: str
    version: str
    files: dict[str, bytes]
    meta: dict[str, Any] = field(default_factory=dict)
    key_id: str = ""
    created_at: float = 0.0


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def key_id(public_raw: bytes) -> str:
    return sha256_hex(public_raw)[:16]


def generate_key(path: Path) -> str:
    """Write a new private key (PEM, mode 0600) at `path` and its public key at `path.pub`; return key id."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists():
        raise UsageError(f"{path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    Path(str(path) + ".pub").write_text(_b64(raw) + "\n")
    return key_id(raw)


def _load_private(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise UsageError(f"cannot read signing key {path}: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 private key")
    return key


def sign_pack(
    kind: str, name: str, version: str, files: dict[str, bytes], key_path: Path, meta: dict[str, Any] | None = None
) -> bytes:
    from cryptography.hazmat.primitives import serialization

    key = _load_private(key_path)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body = {
        "format": FORMAT,
        "kind": kind,
        "name": name,
        "version": version,
        "created_at": time.time(),
        "files": {k: _b64(v) for k, v in sorted(files.items())},
        "meta": meta or {},
        "public_key": _b64(raw),
    }
    signature = key.sign(canonical_json(body))
    return canonical_json({**body, "signature": _b64(signature)}) + b"\n"


class TrustStore:
    """Public keys this laptop accepts packs from: one `<key_id>.pub` file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, public_b64: str, label: str = "") -> str:
        try:
            raw = base64.b64decode(public_b64.strip(), validate=True)
        except ValueError as e:
            raise UsageError("not a base64 Ed25519 public key") from e
        if len(raw) != 32:
            raise UsageError("not an Ed25519 public key (expected 32 bytes)")
        kid = key_id(raw)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{kid}.pub").write_text(_b64(raw) + ("\n# " + label if label else "") + "\n")
        return kid

    def add_file(self, pub_path: Path, label: str = "") -> str:
        try:
            text = pub_path.read_text().splitlines()[0]
        except (OSError, IndexError) as e:
            raise UsageError(f"cannot read public key {pub_path}") from e
        return self.add(text, label or pub_path.name)

    def trusted(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.pub")) if self.folder.is_dir() else []

    def is_trusted(self, kid: str) -> bool:
        return (self.folder / f"{kid}.pub").exists()


def trust_store(home: Path) -> TrustStore:
    """The data home's trust store: every kind of pack (intel, prompts, models) checks the same keys."""
    return TrustStore(home / "trusted-keys")


def read_pack(data: bytes, trust: TrustStore | None) -> Pack:
    """Parse and verify; with `trust=None` only the signature is checked (for `inspect`)."""
    import json

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("not an edgeprompt pack")
        signature = base64.b64decode(doc.pop("signature"), validate=True)
        raw = base64.b64decode(doc["public_key"], validate=True)
        files = {k: base64.b64decode(v, validate=True) for k, v in doc["files"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise SignatureError(f"malformed pack ({e})") from e
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, canonical_json(doc))
    except (InvalidSignature, ValueError) as e:
        raise SignatureError() from e
    kid = key_id(raw)
    if trust is not None and not trust.is_trusted(kid):
        raise UntrustedKeyError(kid)
    return Pack(
        kind=str(doc["kind"]),
        name=str(doc["name"]),
        version=str(doc["version"]),
        files=files,
        meta=dict(doc.get("meta") or {}),
        key_id=kid,
        created_at=float(doc.get("created_at", 0.0)),
    )
