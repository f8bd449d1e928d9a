"""backup PATH, restore PATH: the whole data home (database, settings, model cards, trusted keys) in one file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.commands import add_command

if TYPE_CHECKING:
    from edgeprompt.cli import Context


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = add_command(
        sub,
        "backup",
        "write the data home (database, settings, model cards, keys) to one file; safe while edgeprompt runs",
        common,
        cmd_backup,
    )
    p.add_argument("path", type=Path, help="the backup file to write (replaced only once the new one is whole)")
    p = add_command(
        sub,
        "restore",
        "check a backup (digests, integrity, schema, audit chain) and put it in "
        "place; the current home is backed up beside it first",
        common,
        cmd_restore,
    )
    p.add_argument("path", type=Path, help="a file written by `edgeprompt backup`")


def cmd_backup(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.backup import backup
    from edgeprompt.paths import resolve_home

    info = backup(resolve_home(ctx.home), args.path)
    ctx.emit(
        info.as_dict(),
        lambda: (
            f"backed up {len(info.files)} files ({info.bytes / 1e6:.1f} MB, "
            f"{info.audit_entries} audit entries) to {info.path} in {info.seconds:.1f} s"
        ),
    )
    return 0


def cmd_restore(args: argparse.Namespace, ctx: Context) -> int:
    from edgeprompt.backup import restore
    from edgeprompt.paths import resolve_home

    info = restore(resolve_home(ctx.home), args.path)
    r = info.restored
    ctx.emit(
        info.as_dict(),
        lambda: (
            f"restored {len(r.files)} files ({r.audit_entries} audit entries, chain "
            f"verified) from {r.path}" + (f"; the previous home is in {info.previous}" if info.previous else "")
        ),
    )
    return 0
