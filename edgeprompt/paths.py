"""Where edgeprompt keeps its data: one folder, the data home."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "EDGEPROMPT_HOME"


def default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("edgeprompt", appauthor=False))


def resolve_home(override: str | os.PathLike[str] | None = None) -> Path:
    """`--home` wins, then `EDGEPROMPT_HOME`, then the platform's user data dir."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().resolve()
    return default_home()


@dataclass(frozen=True)
class Paths:
    """The layout of one data home."""

    home: Path

    @property
    def db(self) -> Path:
        return self.home / "edgeprompt.db"

    @property
    def config(self) -> Path:
        return self.home / "config.toml"

    @property
    def models(self) -> Path:
        """User model cards (*.toml) and built model folders."""
        return self.home / "models"

    @property
    def cache(self) -> Path:
        """Derived artifacts that can be rebuilt (ONNX exports, prompt caches)."""
        return self.home / "cache"

    def ensure(self) -> Paths:
        for p in (self.home, self.models, self.cache):
            p.mkdir(parents=True, exist_ok=True)
        return self


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the whole new one, never a part (fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def replace_folder(built: Path, final: Path) -> None:
    """Move a fully built folder to `final`; the previous one stays whole until the new one is in place."""
    old = final.with_name(f".{final.name}-old-{built.name[-8:]}")
    if final.exists():
        final.rename(old)
    built.rename(final)
    shutil.rmtree(old, ignore_errors=True)
