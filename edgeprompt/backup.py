"""Backups of the data home: one tar file holding the database, the settings, model cards and trusted keys.

- The database is copied with SQLite's online backup API: a consistent snapshot while other processes keep
  writing (WAL readers do not block writers). The audit log's head anchor is written from that snapshot's
  last entry, so the copy's chain and anchor agree.
- A backup is built beside PATH and renamed onto it at the end: a kill leaves the old PATH or the new one,
  never half a file (the leftover `.NAME.partial` is removed by the next backup).
- `restore` checks everything before it touches the home: file digests, `PRAGMA integrity_check`, the
  schema (a newer one is refused), the audit chain. Then it backs up the current home beside it and swaps
  the files in one at a time, each with an atomic rename; the database's WAL is checkpointed first, so no
  stale log can be replayed onto the restored file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprompt.errors import NewerDatabaseError, UsageError
from edgeprompt.paths import Paths, write_atomic

FORMAT = 1
MANIFEST = "manifest.json"
DB_NAME = "edgeprompt.db"
ANCHOR = "audit-head.json"


@dataclass(frozen=True)
class BackupInfo:
    path: str
    bytes: int
    files: tuple[str, ...]
    migrations: int
    audit_entries: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "bytes": self.bytes,
            "files": list(self.files),
            "migrations": self.migrations,
            "audit_entries": self.audit_entries,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class RestoreInfo:
    restored: BackupInfo
    previous: str  # the backup of the home as it was before the restore

    def as_dict(self) -> dict[str, Any]:
        return {**self.restored.as_dict(), "previous_home_backup": self.previous}


def _small_files(paths: Paths) -> dict[str, Path]:
    """Settings, model cards and trusted keys: what the database does not hold (model folders are rebuilt)."""
    out: dict[str, Path] = {}
    if paths.config.is_file():
        out["config.toml"] = paths.config
    for folder in (paths.models, paths.home / "trusted-keys"):
        if folder.is_dir():
            for f in sorted(folder.iterdir()):
                if f.is_file() and (folder.name == "trusted-keys" or f.suffix == ".toml"):
                    out[f"{folder.name}/{f.name}"] = f
    return out


def _copy_db(src: Path, dst: Path) -> None:
    from edgeprompt.store.db import connect

    source = connect(src)
    target = connect(dst)
    try:
        source.conn.backup(target.conn)  # one step: one consistent read snapshot
        target.conn.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file in the archive
    finally:
        target.close()
        source.close()


def _db_facts(db_file: Path) -> tuple[list[str], Any]:
    """The migrations applied in this database file and its audit chain's verification."""
    from edgeprompt.store.audit import AuditLog
    from edgeprompt.store.db import connect
    from edgeprompt.store.migrate import applied

    db = connect(db_file)
    try:
        check = str(db.query_one("PRAGMA integrity_check")[0])
        if check != "ok":
            raise UsageError(f"the database in the backup is damaged: {check}")
        return applied(db), AuditLog(db, db_file.with_name(ANCHOR)).verify()
    finally:
        db.close()


def _audit_head(db_file: Path) -> dict[str, Any] | None:
    from edgeprompt.store.db import connect

    db = connect(db_file)
    try:
        row = db.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    except Exception:  # a home from before the audit log
        row = None
    finally:
        db.close()
    return {"seq": row[0], "hash": row[1]} if row else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def backup(home: Path, target: Path) -> BackupInfo:
    """Write a backup of `home` to `target` (a tar file); the old `target`, if any, stays until the new is whole."""
    t0 = time.perf_counter()
    paths = Paths(home)
    if not paths.db.is_file():
        raise UsageError(f"no edgeprompt database in {home}")
    target = target.expanduser().absolute()
    if target.is_dir():
        raise UsageError(f"{target} is a folder; give the backup file's name")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.name}.partial")
    shutil.rmtree(work, ignore_errors=True)  # what a killed backup left
    work.mkdir()
    try:
        _copy_db(paths.db, work / DB_NAME)
        head = _audit_head(work / DB_NAME)
        if head is not None:
            (work / ANCHOR).write_text(json.dumps(head))
        migrations, audit = _db_facts(work / DB_NAME)
        files = {DB_NAME: work / DB_NAME, **({ANCHOR: work / ANCHOR} if head else {}), **_small_files(paths)}
        manifest = {
            "format": FORMAT,
            "created_at": time.time(),
            "home": str(home),
            "migrations": migrations,
            "audit": audit.as_dict(),
            "files": {n: _sha256(p) for n, p in files.items()},
        }
        archive = work / "backup.tar"
        with tarfile.open(archive, "w") as tar:
            body = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime = len(body), int(time.time())
            tar.addfile(info, io.BytesIO(body))
            for name, p in files.items():
                tar.add(p, arcname=name, recursive=False)
        with open(archive, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(archive, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupInfo(
        str(target), target.stat().st_size, tuple(files), len(migrations), audit.entries, time.perf_counter() - t0
    )


def _unpack(source: Path, into: Path) -> dict[str, Any]:
    """Extract the archive's files (names checked) and their manifest; raises UsageError on anything odd."""
    try:
        with tarfile.open(source, "r") as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            if MANIFEST not in names or DB_NAME not in names:
                raise UsageError(f"{source} is not an edgeprompt backup (no {MANIFEST} or {DB_NAME})")
            tar.extractall(into, filter="data")  # refuses absolute paths, '..', links out, devices
    except (tarfile.TarError, OSError, EOFError) as e:
        raise UsageError(f"{source} is not a readable backup: {e}") from e
    try:
        manifest = dict(json.loads((into / MANIFEST).read_text(encoding="utf-8")))
    except ValueError as e:
        raise UsageError(f"{source}: the manifest is not valid JSON") from e
    if manifest.get("format") != FORMAT:
        raise UsageError(f"{source}: backup format {manifest.get('format')!r}; this edgeprompt reads {FORMAT}")
    files = manifest.get("files") or {}
    for name, digest in files.items():
        p = into / name
        if not p.is_file() or _sha256(p) != digest:
            raise UsageError(f"{source}: {name} does not match the manifest (damaged or edited backup)")
    return manifest


def restore(home: Path, source: Path) -> RestoreInfo:
    """Replace the home's database, settings, cards and keys with the backup's, after checking all of it."""
    from edgeprompt.store.migrate import MIGRATIONS

    t0 = time.perf_counter()
    source = source.expanduser().absolute()
    if not source.is_file():
        raise UsageError(f"no such backup file: {source}")
    paths = Paths(home).ensure()
    staging = home / f".restore-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest = _unpack(source, staging)
        migrations, audit = _db_facts(staging / DB_NAME)
        unknown = [m for m in migrations if m not in {x.name for x in MIGRATIONS}]
        if unknown:
            raise NewerDatabaseError(f"the backup has schema '{unknown[-1]}' that this version does not know")
        if not audit.ok:
            raise UsageError(f"the backup's audit log is broken ({audit.reason}); not restored")
        previous = home / f"before-restore-{time.strftime('%Y%m%d-%H%M%S')}.tar"
        if paths.db.is_file():
            _checkpoint(paths.db)
            backup(home, previous)
        _swap_in(paths, staging, list(manifest["files"]))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    info = BackupInfo(
        str(source),
        source.stat().st_size,
        tuple(manifest["files"]),
        len(migrations),
        audit.entries,
        time.perf_counter() - t0,
    )
    return RestoreInfo(info, str(previous) if previous.exists() else "")


def _checkpoint(db_file: Path) -> None:
    """Empty the WAL into the database file, so nothing of the old database waits to be replayed."""
    from edgeprompt.store.db import connect

    db = connect(db_file)
    try:
        busy = db.query_one("PRAGMA wal_checkpoint(TRUNCATE)")[0]
    finally:
        db.close()
    if busy:
        raise UsageError("another edgeprompt process is using this home; close it and run restore again")


def _swap_in(paths: Paths, staging: Path, names: list[str]) -> None:
    """Anchor out first, database, then the rest, each by rename: a kill in between leaves a home that
    opens and verifies (without an anchor the chain is checked, only truncation goes unseen until the next
    append writes one)."""
    paths.home.joinpath(ANCHOR).unlink(missing_ok=True)
    os.replace(staging / DB_NAME, paths.db)
    for suffix in ("-wal", "-shm"):  # empty after the checkpoint; a fresh one is made on open
        paths.db.with_name(DB_NAME + suffix).unlink(missing_ok=True)
    for name in names:
        if name == DB_NAME:
            continue
        dest = paths.home / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, (staging / name).read_bytes())
