"""`models pull`: ready-made model repositories from the Hugging Face hub, in one step.

The repository's file list is read first (sizes and checksums, no weights), its layout decided from it
(an onnxruntime-genai folder, an mlx-lm folder, or plain safetensors to convert), whether this machine
can run it and whether the disk can hold it; only then are the files downloaded, through
`huggingface_hub` (resumable, with progress bars, `HF_ENDPOINT` honoured), and each one is checked
against the hub's sha256 (LFS files) or git blob id (the others) before the folder is moved into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from edgeprompt.catalog import extras
from edgeprompt.catalog.cards import ModelCard, apple_silicon
from edgeprompt.catalog.extras import BUILD_HINT, MLX_HINT
from edgeprompt.errors import ChecksumError, ModelLoadError, NoSpaceError, OfflineError, UsageError

HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# what a runnable folder needs; READMEs, images, pytorch .bin, other formats' copies and Python files (a
# repository's code is never run here) stay on the hub
WANTED = re.compile(r"\.(json|safetensors|onnx|onnx\.data|data|jinja|model|txt|tiktoken)$|^tokenizer")
# converting a plain safetensors folder writes an int4 copy and the builder's cache next to it
CONVERT_SPACE_FACTOR = 1.6
SPACE_MARGIN = 64 * 1024**2

Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the repository's root
    size: int
    sha256: str | None  # LFS files: the sha256 of the content
    blob_id: str | None  # the git blob id (sha1 of "blob <size>\0" + content)


@dataclass(frozen=True)
class PullPlan:
    """What `pull` will download, decided from the file list before any weights move."""

    repo_id: str
    commit: str
    layout: str  # onnx | mlx | hf
    subfolder: str  # "" or the folder inside the repository holding the model
    files: tuple[RemoteFile, ...]
    license: str

    @property
    def download_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def needed_bytes(self) -> int:
        factor = CONVERT_SPACE_FACTOR if self.layout == "hf" else 1.0
        return int(self.download_bytes * factor) + SPACE_MARGIN


def offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def endpoint() -> str | None:
    # read at call time: huggingface_hub reads HF_ENDPOINT once, at its own import
    return os.environ.get("HF_ENDPOINT") or None


def model_id_for(hub_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", hub_id.rsplit("/", 1)[-1])[:64].strip("-.") or "model"


def _hub_error(repo_id: str, e: Exception) -> Exception:
    name = type(e).__name__
    first = (str(e).splitlines() or [""])[0][:200]
    if "RepositoryNotFound" in name or "RevisionNotFound" in name or "GatedRepo" in name:
        return UsageError(f"{repo_id}: {first}")
    if "Connect" in name or "Timeout" in name or "Offline" in name or isinstance(e, OSError):
        return OfflineError(f"cannot reach the hub for {repo_id} ({name})")
    return ModelLoadError(f"cannot download {repo_id}: {name}: {first}")


def _genai_folder(paths: Sequence[str]) -> str | None:
    """The folder holding genai_config.json; with several (one per device and precision, as in the
    onnxruntime repositories), the CPU int4 one."""
    dirs = [str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "genai_config.json"]
    if not dirs:
        return None

    def rank(d: str) -> tuple[int, int, int]:
        low = d.lower()
        return (0 if "cpu" in low else 1, 0 if "int4" in low else 1, len(d))

    best = sorted(dirs, key=rank)[0]
    return "" if best == "." else best


def _under(path: str, folder: str) -> str | None:
    if not folder:
        return path if "/" not in path else None
    return path[len(folder) + 1 :] if path.startswith(folder + "/") and "/" not in path[len(folder) + 1 :] else None


def layout_of(paths: Sequence[str], read_config: Callable[[], dict[str, Any]]) -> tuple[str, str]:
    """(layout, subfolder) from the repository's file list; `read_config` fetches the root config.json
    (a few KB) only when the list alone cannot tell MLX from plain safetensors."""
    genai = _genai_folder(paths)
    if genai is not None:
        return "onnx", genai
    root = [p for p in paths if "/" not in p]
    if "config.json" in root and any(p.endswith(".safetensors") for p in root):
        return ("mlx" if "quantization" in read_config() else "hf"), ""
    if any(p.endswith(".gguf") for p in paths):
        raise UsageError("this repository holds GGUF files: download one and run `edgeprompt models add FILE.gguf`")
    raise UsageError(
        "not a model repository edgeprompt can run (no genai_config.json, and no config.json with *.safetensors)"
    )


def runnable_problem(layout: str) -> str | None:
    """Why this machine cannot use a `layout` folder, as a one-line hint; None when it can."""
    if layout == "mlx" and not apple_silicon() and not extras.have_mlx():
        return f"it is an MLX folder: MLX needs Apple silicon, or `{MLX_HINT}` to run it (slowly) on this CPU"
    if layout == "hf" and not (apple_silicon() and extras.have_mlx()) and not extras.have_build_tools():
        return f"it holds plain safetensors, which must be converted first: `{BUILD_HINT}` installs the converter"
    return None


def plan(repo_id: str, revision: str | None = None, api: Any = None) -> PullPlan:
    """Read the repository's file list (and, for safetensors, its config.json) and decide what to fetch."""
    if not HUB_ID_RE.match(repo_id):
        raise UsageError(f"'{repo_id}' is not a Hugging Face model id (owner/name)")
    if offline():
        raise OfflineError(
            f"cannot download {repo_id} while offline (HF_HUB_OFFLINE=1); copy the model folder "
            "here and use `edgeprompt models add PATH`"
        )
    from huggingface_hub import HfApi, hf_hub_download

    api = api or HfApi(endpoint=endpoint())
    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True)
    except Exception as e:  # hub and network errors arrive as many types; each becomes one line
        raise _hub_error(repo_id, e) from e
    commit = info.sha or (revision or "main")
    siblings = list(info.siblings or [])
    names = [s.rfilename for s in siblings]

    def read_config() -> dict[str, Any]:
        # into a throwaway folder: nothing of a repository that is not installed stays in a cache
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = hf_hub_download(repo_id, "config.json", revision=commit, endpoint=endpoint(), local_dir=tmp)
                config: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
                return config
            except Exception as e:
                raise _hub_error(repo_id, e) from e

    layout, sub = layout_of(names, read_config)
    files = []
    for s in siblings:
        rel = _under(s.rfilename, sub)
        if rel is None or not WANTED.search(rel):
            continue
        lfs = s.lfs
        files.append(
            RemoteFile(
                s.rfilename, int(s.size or (lfs.size if lfs else 0) or 0), lfs.sha256 if lfs else None, s.blob_id
            )
        )
    card = getattr(info, "card_data", None)
    lic = str(getattr(card, "license", "") or "") if card is not None else ""
    return PullPlan(repo_id, commit, layout, sub, tuple(files), lic)


def free_bytes(dest: Path) -> int:
    """Free space where `dest` will be (its nearest existing parent)."""
    probe = dest
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(p: PullPlan, dest: Path, free: int | None = None) -> None:
    free = free_bytes(dest) if free is None else free
    need = p.needed_bytes()
    if need > free:
        raise NoSpaceError(f"{p.repo_id} needs {need / 1e9:.2f} GB and {dest} has {free / 1e9:.2f} GB free")


def git_blob_id(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with open(path, "rb") as f:
        return hashlib.file_digest(f, lambda: h).hexdigest()


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify(root: Path, files: Sequence[RemoteFile]) -> None:
    """Check every downloaded file against the hub's checksum; a bad one is deleted (with huggingface_hub's
    record of it, so the next pull fetches it again) and the pull refused."""
    for f in files:
        path = root / f.path
        if f.sha256:
            want, got, kind = f.sha256, sha256_of(path), "sha256"
        elif f.blob_id:
            want, got, kind = f.blob_id, git_blob_id(path), "git blob id"
        else:
            continue
        if got != want:
            path.unlink(missing_ok=True)
            for meta in (root / ".cache" / "huggingface" / "download").glob(f"{f.path}*"):
                meta.unlink(missing_ok=True)
            raise ChecksumError(f"{f.path}: {kind} {got[:12]}… but the hub says {want[:12]}…")


def staging_dir(models_dir: Path, model_id: str, p: PullPlan) -> Path:
    # a stable name per commit, so a pull that was interrupted resumes from its partial files
    return models_dir / model_id / f".pull-{p.layout}-{p.commit[:12]}"


def download(p: PullPlan, models_dir: Path, model_id: str, progress: Progress = None) -> Path:
    """Fetch the planned files, verify them and move the model folder to `<models>/<id>/<layout>`."""
    from huggingface_hub import snapshot_download

    stage = staging_dir(models_dir, model_id, p)
    stage.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"downloading {p.repo_id} ({p.layout}, {len(p.files)} files, {p.download_bytes / 1e6:.1f} MB)")
    try:
        snapshot_download(
            p.repo_id,
            revision=p.commit,
            local_dir=str(stage),
            endpoint=endpoint(),
            allow_patterns=[f.path for f in p.files],
        )
    except Exception as e:  # the partial files stay in the staging folder for the next try
        raise _hub_error(p.repo_id, e) from e
    if progress:
        progress("checking checksums")
    verify(stage, p.files)
    final = models_dir / model_id / p.layout
    src = stage / p.subfolder if p.subfolder else stage
    shutil.rmtree(src / ".cache", ignore_errors=True)
    if final.exists():
        shutil.rmtree(final)
    src.rename(final)
    shutil.rmtree(stage, ignore_errors=True)
    return final


def install(p: PullPlan, models_dir: Path, model_id: str, progress: Progress = None) -> ModelCard:
    """Download the plan into `<models>/<id>/` and return its card; plain safetensors are converted to an
    int4 onnxruntime-genai folder off Apple silicon (mlx-lm runs them as they are on a Mac)."""
    from edgeprompt.catalog.files import card_for_folder

    folder = download(p, models_dir, model_id, progress)
    card = card_for_folder(folder, model_id, ("general",))
    card = replace(
        card,
        hub_id=p.repo_id,
        license=p.license or card.license,
        description=f"pulled from {p.repo_id} at {p.commit[:12]}",
    )
    return runnable_card(card, models_dir, progress)


def runnable_card(card: ModelCard, models_dir: Path, progress: Progress = None) -> ModelCard:
    """A card with only a Hugging Face folder gets an int4 onnx one, unless mlx-lm runs it as it is (Mac)."""
    from edgeprompt.catalog.convert import convert_card

    mlx_here = apple_silicon() and extras.have_mlx()
    if card.path_for("onnx") is None and card.path_for("hf") is not None and not mlx_here:
        card = convert_card(card, "onnx", 4, models_dir, progress)
    return card
