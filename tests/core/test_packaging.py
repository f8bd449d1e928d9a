"""The wheel must hold every package: pyproject lists them by hand because tui/ and models/ are mapped."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_directory_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "edgeprompt").rglob("__init__.py")}
    found |= {"edgeprompt.tui", "edgeprompt.shipped"}
    missing = sorted(found - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_import_edgeprompt_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, edgeprompt, edgeprompt.cli, edgeprompt.pipeline, edgeprompt.runtime; "
            "heavy = [m for m in ('torch', 'numpy', 'onnxruntime', 'mlx', 'textual', 'flwr', 'transformers') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing the core pulled in heavy modules: {out}"
