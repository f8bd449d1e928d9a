"""Nightly photo backup from the laptop to the external drive and to Cloudbox.

Run by cron at 02:30 every night: 30 2 * * * /usr/bin/python3 ~/bin/backup_photos.py
"""

import datetime
import pathlib
import subprocess

SOURCE = pathlib.Path.home() / "Pictures"
DRIVE = pathlib.Path("/mnt/backup/photos")
KEEP_DAILY = 14  # snapshots kept on the external drive
CLOUD_REMOTE = "cloudbox:photos"  # rclone remote, 2 TB plan


def snapshot_name(today: datetime.date) -> str:
    return today.strftime("photos-%Y-%m-%d")


def prune(folder: pathlib.Path, keep: int = KEEP_DAILY) -> None:
    """Delete the oldest snapshots so that only `keep` remain."""
    snaps = sorted(p for p in folder.iterdir() if p.name.startswith("photos-"))
    for old in snaps[:-keep]:
        subprocess.run(["rm", "-rf", str(old)], check=True)


def main() -> None:
    target = DRIVE / snapshot_name(datetime.date.today())
    subprocess.run(["rsync", "-a", "--link-dest", str(DRIVE / "latest"), f"{SOURCE}/", str(target)], check=True)
    prune(DRIVE)
    subprocess.run(["rclone", "sync", str(SOURCE), CLOUD_REMOTE], check=True)


if __name__ == "__main__":
    main()
