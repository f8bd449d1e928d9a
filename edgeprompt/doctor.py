"""`edgeprompt doctor`: what this machine can do, in one report."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt import __version__

if TYPE_CHECKING:
    from edgeprompt.catalog.cards import Catalog
    from edgeprompt.store.db import Database


def _check(name: str, status: str, detail: str, **data: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, **data}


def _sqlite(db: Database) -> list[dict[str, Any]]:
    sqlite_version, vec_version = db.query_one("SELECT sqlite_version(), vec_version()")
    fts5 = bool(db.query_one("SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'"))
    mode = db.query_one("PRAGMA journal_mode")[0]
    integrity = db.query_one("PRAGMA quick_check")[0]
    return [
        _check(
            "sqlite",
            "ok",
            f"{sqlite_version} (sqlean), journal {mode}, check {integrity}",
            version=sqlite_version,
            journal_mode=mode,
            integrity=integrity,
        ),
        _check("sqlite-vec", "ok", vec_version, version=vec_version),
        _check("fts5", "ok" if fts5 else "fail", "available" if fts5 else "missing", available=fts5),
    ]


def _mlx() -> dict[str, Any]:
    try:
        import mlx.core as mx

        device = str(mx.default_device())
        from importlib.metadata import version

        v = version("mlx")
        note = "" if "gpu" in device.lower() else " (CPU: slow; language models run on onnx here)"
        return _check("mlx", "ok", f"{v}, device {device}{note}", version=v, device=device)
    except Exception as e:  # mlx is optional off Apple silicon / Linux
        return _check("mlx", "warn", f"not available ({type(e).__name__})", version=None, device=None)


def _onnx() -> list[dict[str, Any]]:
    out = []
    try:
        import onnxruntime as ort

        providers = ort.get_available_providers()
        out.append(
            _check(
                "onnxruntime",
                "ok",
                f"{ort.__version__}, providers {', '.join(providers)}",
                version=ort.__version__,
                providers=providers,
            )
        )
    except Exception as e:
        out.append(_check("onnxruntime", "fail", f"not available ({e})", version=None, providers=[]))
    try:
        from importlib.metadata import version

        v = version("onnxruntime-genai")
        out.append(_check("onnxruntime-genai", "ok", v, version=v))
    except Exception as e:
        out.append(_check("onnxruntime-genai", "warn", f"not available ({type(e).__name__})", version=None))
    return out


def _models(catalog: Catalog, default: str) -> list[dict[str, Any]]:
    out = []
    for card in catalog.cards():
        if not card.listed(default):
            continue  # echo is for tests: not a model the user has
        folders = {f: str(p) for f in ("hf", "mlx", "onnx") if (p := card.path_for(f)) is not None}
        missing = [f for f, p in folders.items() if not Path(p).exists()]
        status = "warn" if missing else "ok"
        detail = f"{card.backend}" + (f", folders {', '.join(folders)}" if folders else "")
        if missing:
            detail += f"; missing: {', '.join(missing)}"
        if card.id == default:
            detail += " (default)"
        out.append(
            _check(
                f"model {card.id}",
                status,
                detail,
                id=card.id,
                folders=folders,
                missing=missing,
                default=card.id == default,
            )
        )
    return out


def _language_model(catalog: Catalog) -> dict[str, Any]:
    from edgeprompt.catalog.recommend import installed_models

    real = installed_models(catalog)
    if real:
        return _check("language model", "ok", ", ".join(c.id for c in real), models=[c.id for c in real])
    return _check(
        "language model",
        "warn",
        "no generative model installed (the demo is a toy): run `edgeprompt "
        "models recommend`, then `edgeprompt models pull REPOSITORY`",
        models=[],
    )


def diagnose(db: Database, catalog: Catalog, home: Path, default_model: str) -> dict[str, Any]:
    """The report over this data home: its database, its model cards, and `default_model` (the id `ask` uses)."""
    free = shutil.disk_usage(home).free
    checks = [
        _check(
            "edgeprompt",
            "ok",
            f"{__version__}, Python {sys.version.split()[0]}, {platform.system()} {platform.machine()}",
            version=__version__,
        ),
        _check("data home", "ok", str(home), path=str(home)),
        *_sqlite(db),
        _mlx(),
        *_onnx(),
        *_models(catalog, default_model),
        _language_model(catalog),
        _check("disk", "ok" if free > 2 * 1024**3 else "warn", f"{free / 1024**3:.1f} GiB free", free_bytes=free),
    ]
    return {"checks": checks}
