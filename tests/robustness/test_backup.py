"""backup / restore: a restored home is the backed-up one; bad backups are refused and leave the home alone;
a backup killed with SIGKILL leaves the old backup file or the new one, and the home intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from edgeprompt.app import Runtime
from edgeprompt.backup import backup, restore
from edgeprompt.errors import NewerDatabaseError, UsageError
from edgeprompt.store.audit import AuditLog

pytestmark = pytest.mark.robustness


def _home(home: Path, entries: int = 3) -> None:
    with Runtime.open(home) as rt:
        log = AuditLog(rt.db)
        for i in range(entries):
            log.append("test.event", {"n": i})
    (home / "config.toml").write_text("[generation]\nmax_tokens = 77\n", encoding="utf-8")
    (home / "models").mkdir(exist_ok=True)
    (home / "models" / "mine.toml").write_text('id = "mine"\nbackend = "echo"\n', encoding="utf-8")


def _audit(home: Path) -> tuple[bool, int]:
    with Runtime.open(home) as rt:
        r = AuditLog(rt.db).verify()
        assert str(rt.db.query_one("PRAGMA integrity_check")[0]) == "ok"
        return r.ok, r.entries


def test_restore_brings_back_the_backed_up_home_and_keeps_the_current_one(data_home: Path, tmp_path: Path) -> None:
    _home(data_home, 3)
    info = backup(data_home, tmp_path / "b.tar")
    assert set(info.files) == {"edgeprompt.db", "audit-head.json", "config.toml", "models/mine.toml"}
    assert info.audit_entries == 3

    _home(data_home, 2)  # two more entries, a changed card
    (data_home / "models" / "mine.toml").write_text('id = "mine"\nbackend = "onnx"\n', encoding="utf-8")
    assert _audit(data_home) == (True, 5)

    done = restore(data_home, tmp_path / "b.tar")
    assert _audit(data_home) == (True, 3)
    assert 'backend = "echo"' in (data_home / "models" / "mine.toml").read_text(encoding="utf-8")
    with tarfile.open(done.previous) as tar:  # the home as it was just before: 5 entries, the onnx card
        assert 'backend = "onnx"' in tar.extractfile("models/mine.toml").read().decode()  # type: ignore[union-attr]
    with Runtime.open(data_home) as rt:  # the home goes on: the chain extends from the restored head
        AuditLog(rt.db).append("test.after", {})
    assert _audit(data_home) == (True, 4)


def test_a_newer_schema_is_refused_and_the_home_is_untouched(data_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "newer"
    _home(other)
    with Runtime.open(other) as rt, rt.db.transaction() as c:
        c.execute("INSERT INTO schema_migrations(name, applied_at) VALUES ('9999_from_the_future', 0)")
    backup(other, tmp_path / "newer.tar")
    _home(data_home, 4)
    before = (data_home / "edgeprompt.db").read_bytes()
    with pytest.raises(NewerDatabaseError, match="9999_from_the_future"):
        restore(data_home, tmp_path / "newer.tar")
    assert (data_home / "edgeprompt.db").read_bytes() == before and _audit(data_home) == (True, 4)


def test_a_broken_audit_chain_or_a_damaged_file_is_refused(data_home: Path, tmp_path: Path) -> None:
    other = tmp_path / "tampered"
    _home(other)
    with Runtime.open(other) as rt, rt.db.transaction() as c:
        for (name,) in c.execute(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'"
        ).fetchall():
            c.execute(f"DROP TRIGGER {name}")
        c.execute("UPDATE audit_log SET data = '{\"n\": 99}' WHERE seq = 2")
    backup(other, tmp_path / "tampered.tar")
    _home(data_home, 1)
    with pytest.raises(UsageError, match=r"audit log is broken .*entry 2 was modified"):
        restore(data_home, tmp_path / "tampered.tar")

    good = backup(data_home, tmp_path / "good.tar")
    raw = bytearray(Path(good.path).read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte inside the database copy
    (tmp_path / "damaged.tar").write_bytes(bytes(raw))
    with pytest.raises(UsageError, match=r"does not match the manifest|not a readable backup"):
        restore(data_home, tmp_path / "damaged.tar")
    (tmp_path / "junk.tar").write_bytes(b"not a tar file at all")
    with pytest.raises(UsageError, match="not a readable backup"):
        restore(data_home, tmp_path / "junk.tar")
    assert _audit(data_home) == (True, 1)


@pytest.mark.slow  # a crash loop: four `backup` subprocesses, each SIGKILLed after a random 0.4-1.6 s sleep
def test_kill_9_during_backup_leaves_the_old_backup_or_the_new_one(data_home: Path, tmp_path: Path) -> None:
    _home(data_home, 2)
    with Runtime.open(data_home) as rt, rt.db.transaction() as c:  # ~40 MB, so a backup takes a while
        c.execute("CREATE TABLE ballast(b BLOB)")
        c.executemany("INSERT INTO ballast VALUES (randomblob(1000000))", [()] * 40)
    target = tmp_path / "b.tar"
    first = backup(data_home, target)
    old = target.read_bytes()
    env = {**os.environ, "EDGEPROMPT_HOME": str(data_home)}
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        with Runtime.open(data_home) as rt:  # the home changes between backups
            AuditLog(rt.db).append("test.between", {})
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeprompt", "backup", str(target)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.4, 1.6))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        data = target.read_bytes()
        if data != old:  # the new backup finished before the kill: it must be whole and restorable
            with tarfile.open(target) as tar:
                assert "edgeprompt.db" in tar.getnames()
            old = data
        assert _audit(data_home)[0]
    assert kills >= 1, "every backup finished before its kill: the kill window is too late"
    again = backup(data_home, target)  # a killed backup's leftovers do not get in the way
    assert not (tmp_path / ".b.tar.partial").exists() and again.audit_entries == first.audit_entries + 4
    fresh = tmp_path / "fresh"
    restore(fresh, target)
    assert _audit(fresh) == (True, 6)
