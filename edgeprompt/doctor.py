"""`edgeprompt doctor`: what this machine can do, in one report."""

from __future__ import annotations

import platform
import shutil
import sys
from typing import TYPE_CHECKING, Any

from edgeprompt import __version__

if TYPE_CHECKING:
    from edgeprompt.app import Runtime


def _check(name: str, status: str, detail: str, **data: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, **data}


def _sqlite(rt: Runtime) -> list[dict[str, Any]]:
    sqlite_version, vec_version = rt.db.query_one("SELECT sqlite_version(), vec_version()")
    fts5 = bool(rt.db.query_one("SELECT 1 FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'"))
    mode = rt.db.query_one("PRAGMA journal_mode")[0]
    integrity = rt.db.query_one("PRAGMA quick_check")[0]
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


def _models(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    default = rt.default_model_id()
    for card in rt.catalog.cards():
        folders = {f: str(p) for f in ("hf", "mlx", "onnx") if (p := card.path_for(f)) is not None}
        missing = [f for f, p in folders.items() if not __import__("pathlib").Path(p).exists()]
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


def _language_model(rt: Runtime) -> dict[str, Any]:
    from edgeprompt.catalog.recommend import installed_models

    real = installed_models(rt.catalog)
    if real:
        return _check("language model", "ok", ", ".join(c.id for c in real), models=[c.id for c in real])
    return _check(
        "language model",
        "warn",
        "no generative model installed (the demo is a toy): run `edgeprompt "
        "models recommend`, then `edgeprompt models pull REPOSITORY`",
        models=[],
    )


def diagnose(rt: Runtime) -> dict[str, Any]:
    free = shutil.disk_usage(rt.home).free
    checks = [
        _check(
            "edgeprompt",
            "ok",
            f"{__version__}, Python {sys.version.split()[0]}, {platform.system()} {platform.machine()}",
            version=__version__,
        ),
        _check("data home", "ok", str(rt.home), path=str(rt.home)),
        *_sqlite(rt),
        _mlx(),
        *_onnx(),
        *_models(rt),
        _language_model(rt),
        _check("disk", "ok" if free > 2 * 1024**3 else "warn", f"{free / 1024**3:.1f} GiB free", free_bytes=free),
    ]
    return {"checks": checks}
