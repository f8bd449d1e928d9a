"""After the last round: export the aggregated head to ONNX (or, for lm-lora, the adapter in peft's format) and
write it as an Ed25519-signed model pack.

The pack (edgeprompt.signing) holds `classifier.onnx` and `classifier.json` exactly as the firewall or
router loader reads them from `<data home>/models/<task>/`; laptops install it with
`edgeprompt federation import PACK`, which verifies the signature against their trust store.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from edgeprompt.errors import UsageError
from edgeprompt.federation.heads import HeadSpec
from edgeprompt.signing import generate_key, key_id, sign_pack


def flwr_home() -> Path:
    return Path(os.environ.get("FLWR_HOME") or "~/.flwr").expanduser()


def out_dir(cfg: dict[str, Any], run_id: int) -> Path:
    folder = Path(str(cfg["out-dir"])).expanduser() if cfg["out-dir"] else flwr_home() / "edgeprompt-runs" / str(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def signing_key(cfg: dict[str, Any]) -> Path:
    """The coordinator's key from the run config, else one kept in FLWR_HOME (made on first use)."""
    path = (
        Path(str(cfg["signing-key"])).expanduser() if cfg["signing-key"] else flwr_home() / "edgeprompt-coordinator.key"
    )
    if not path.exists():
        with contextlib.suppress(FileExistsError, UsageError):  # another run made it a moment ago
            generate_key(path)
    return path


def public_key_id(key_path: Path) -> str:
    import base64

    return key_id(base64.b64decode(Path(str(key_path) + ".pub").read_text().split()[0]))


def clean(value: Any) -> Any:
    """JSON-safe: NaN/inf (an empty held-out split) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def write_pack(
    spec: HeadSpec, model: Any, cfg: dict[str, Any], trained: dict[str, Any], folder: Path
) -> dict[str, Any]:
    """Export, sign, write `<task>-model.pack`; returns where everything went."""
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, json_path = spec.export(model, Path(tmp), {"trained": clean(trained)})
        files = {"classifier.onnx": onnx_path.read_bytes(), "classifier.json": json_path.read_bytes()}
    spec.validate(files["classifier.onnx"], json.loads(files["classifier.json"]))  # loads as a laptop would
    (folder / "classifier.onnx").write_bytes(files["classifier.onnx"])
    (folder / "classifier.json").write_bytes(files["classifier.json"])
    signed = _sign(cfg, spec.pack_kind, f"{spec.task}-classifier", files, trained, folder / f"{spec.task}-model.pack")
    return {**signed, "onnx": str(folder / "classifier.onnx")}


def _sign(
    cfg: dict[str, Any], kind: str, name: str, files: dict[str, bytes], meta: dict[str, Any], pack: Path
) -> dict[str, Any]:
    """Sign `files` with the coordinator's key as version `fed-<run id>`, write `pack`; returns where it went."""
    key = signing_key(cfg)
    version = f"fed-{meta['run_id']}"
    pack.write_bytes(sign_pack(kind, name, version, files, key, meta=clean(meta)))
    return {
        "pack": str(pack),
        "signing_key": str(key),
        "public_key": str(key) + ".pub",
        "key_id": public_key_id(key),
        "version": version,
    }


def write_adapter_pack(model: Any, cfg: dict[str, Any], trained: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The aggregated LoRA adapter in peft's format, checked to read back as the laptops will read it, signed
    as an `lm-adapter` pack naming the base model and the fingerprint of its weights."""
    from edgeprompt.federation import adapters, lora

    name = str(cfg["lm-model"])
    files = adapters.peft_files(model, name)
    spec, state = adapters.read_peft(files)
    if {k: tuple(v.shape) for k, v in state.items()} != lora.adapter_shapes(model) or spec != lora.LoraSpec.from_config(
        cfg
    ):
        raise RuntimeError("the written adapter does not read back as the trained one")
    (folder / "adapter").mkdir(exist_ok=True)
    for file, data in files.items():
        (folder / "adapter" / file).write_bytes(data)
    meta = {**trained, "lm_model": name, "base_fingerprint": cfg["lm-fingerprint"]}
    signed = _sign(cfg, adapters.PACK_KIND, f"{name}{adapters.SUFFIX}", files, meta, folder / f"lm-lora-{name}.pack")
    return {**signed, "adapter": str(folder / "adapter")}
