"""The wheel must hold every package (pyproject finds them with packages.find) and the core must import light."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_packages_find_finds_every_package_directory() -> None:
    from setuptools import find_packages

    rule = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    found = set(find_packages(str(ROOT), include=rule["include"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "edgeprompt").rglob("__init__.py")}
    assert on_disk and on_disk == found, f"packages.find differs from the package folders: {on_disk ^ found}"
    assert {"edgeprompt.tui", "edgeprompt.shipped", "edgeprompt.routing", "edgeprompt.catalog"} <= found


def test_import_edgeprompt_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, edgeprompt, edgeprompt.cli, edgeprompt.pipeline, edgeprompt.app; "
        "heavy = [m for m in ('torch', 'numpy', 'onnxruntime', 'mlx', 'textual', 'flwr', 'transformers') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing the core pulled in heavy modules: {out}"
