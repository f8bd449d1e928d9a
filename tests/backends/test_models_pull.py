"""`models pull` against a hub on 127.0.0.1 (tests/backends/hub_server.py): an onnxruntime-genai int4 folder,
an MLX 4-bit folder and plain safetensors, built here from real architectures' configs at tiny sizes.

The pulls run as real `edgeprompt` processes: huggingface_hub reads HF_ENDPOINT and offline mode once, at
import, and the test session imported it offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from arch_models import ARCHS, hf_folder
from arch_models import config as arch_config
from hub_server import FakeHub, HubServer

ONNX_REPO, MLX_REPO, HF_REPO = "onnx-test/Qwen2.5-tiny-onnx", "mlx-test/Llama-3.2-tiny-4bit", "hf-test/SmolLM2-tiny"
ONNX_SUB = "cpu_and_mobile/cpu-int4-rtn-block-32"


@pytest.fixture(scope="session")
def hub_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Repository folders as they sit on the hub: the ORT-genai one keeps its model in a per-device
    subfolder next to a CUDA variant (as the onnxruntime repositories do)."""
    from edgeprompt.catalog.convert import mlx_job, onnx_job, run_jobs

    root = tmp_path_factory.mktemp("hub")
    src = {arch: hf_folder(arch, root / "src" / arch) for arch in ("qwen2.5", "llama3.2", "smollm2")}
    onnx_repo, mlx_repo = root / "onnx", root / "mlx"
    jobs = [onnx_job(src["qwen2.5"], onnx_repo / ONNX_SUB, 4)]
    if _mlx_lm():
        jobs.append(mlx_job(src["llama3.2"], mlx_repo, 4))
    run_jobs(jobs)
    (onnx_repo / "README.md").write_text("# tiny\n")
    (onnx_repo / ONNX_SUB / "modeling_custom.py").write_text("raise SystemExit('never fetched, never run')\n")
    cuda = onnx_repo / "cuda" / "cuda-fp16"
    cuda.mkdir(parents=True)
    (cuda / "genai_config.json").write_text((onnx_repo / ONNX_SUB / "genai_config.json").read_text())
    folders = {ONNX_REPO: onnx_repo, HF_REPO: src["smollm2"]}
    if mlx_repo.exists():
        folders[MLX_REPO] = mlx_repo
    return folders


def _mlx_lm() -> bool:
    import importlib.util

    return importlib.util.find_spec("mlx_lm") is not None


@pytest.fixture
def hub(hub_folders: dict[str, Path]) -> Iterator[tuple[FakeHub, str]]:
    fake = FakeHub()
    for repo_id, folder in hub_folders.items():
        fake.add(repo_id, folder)
    with HubServer(fake) as url:
        yield fake, url


# huggingface_hub writes what it receives in 10 MB chunks; 4 KB ones make these small files behave like
# large ones (a dropped connection leaves part of the file on disk to resume from)
PULL = (
    "import sys, huggingface_hub.constants as c; c.DOWNLOAD_CHUNK_SIZE = 4096; "
    "from edgeprompt.cli import main; sys.exit(main(sys.argv[1:]))"
)


def pull(url: str, data_home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(
        HF_ENDPOINT=url,
        HF_HOME=str(data_home.parent / "hf-home"),
        EDGEPROMPT_HOME=str(data_home),
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    return subprocess.run(
        [sys.executable, "-c", PULL, "models", "pull", *argv], env=env, text=True, capture_output=True, timeout=300
    )


def gets(fake: FakeHub, name: str) -> list[str]:
    """The Range headers of the GETs of one file."""
    return [rng for method, path, rng in fake.log if method == "GET" and path.endswith("/" + name)]


@pytest.mark.slow  # builds and serves the tiny hub repositories
def test_onnx_int4_pull_resumes_a_dropped_connection_and_answers(
    hub: tuple[FakeHub, str], data_home: Path, cli: Any
) -> None:
    fake, url = hub
    fake.drop_once.add(f"{ONNX_SUB}/model.onnx.data")
    done = pull(url, data_home, ONNX_REPO, "--id", "qwen-tiny", "--json")
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["layout"] == "onnx" and card["license"] == "apache-2.0" and card["hub_id"] == ONNX_REPO
    assert "100%" in done.stderr  # huggingface_hub's progress bars
    ranges = gets(fake, "model.onnx.data")
    assert ranges[0] == "" and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-", ranges
    folder = Path(card["paths"]["onnx"])
    assert folder == data_home / "models" / "qwen-tiny" / "onnx"
    assert {p.name for p in folder.iterdir()} >= {"genai_config.json", "model.onnx", "model.onnx.data"}
    assert not any(p.name.startswith(".pull-") for p in folder.parent.iterdir())
    fetched = [path for _, path, _ in fake.log if "/resolve/" in path]
    assert not any("cuda" in path or "README" in path or path.endswith(".py") for path in fetched)

    code, out, err = cli("ask", "hello", "-m", "qwen-tiny", "--max-tokens", "8", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["backend"] == "onnx" and answer["usage"]["completion_tokens"] > 0


@pytest.mark.slow  # builds and serves the tiny hub repositories
def test_mlx_pull_installs_and_answers_where_mlx_runs(hub: tuple[FakeHub, str], data_home: Path, cli: Any) -> None:
    fake, url = hub
    if MLX_REPO not in fake.repos:
        pytest.skip("mlx-lm is not installed here, so no MLX folder could be built to serve")
    done = pull(url, data_home, MLX_REPO, "--id", "llama-tiny", "--json")
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["layout"] == "mlx" and card["quantization"] == "4bit"
    assert (Path(card["paths"]["mlx"]) / "model.safetensors").exists()
    code, out, err = cli("ask", "hello", "-m", "llama-tiny", "--backend", "mlx", "--max-tokens", "8", "--json")
    assert code == 0, err
    assert json.loads(out)["backend"] == "mlx"


@pytest.mark.slow  # builds and serves the tiny hub repositories
def test_a_corrupt_file_is_refused_then_a_clean_pull_fetches_only_it(
    hub: tuple[FakeHub, str], data_home: Path, cli: Any
) -> None:
    fake, url = hub
    bad = f"{ONNX_SUB}/model.onnx.data"
    fake.corrupt.add(bad)
    done = pull(url, data_home, ONNX_REPO, "--id", "qwen-bad")
    assert done.returncode == 2 and done.stdout == ""
    line = done.stderr.strip().splitlines()[-1]
    assert "checksum" in line and "model.onnx.data: sha256" in line and "Traceback" not in done.stderr
    assert not (data_home / "models" / "qwen-bad" / "onnx").exists()
    code, out, _ = cli("models", "list", "--json")
    assert code == 0
    assert "qwen-bad" not in [m["id"] for m in json.loads(out)["models"]]

    fake.corrupt.clear()
    fake.log.clear()
    done = pull(url, data_home, ONNX_REPO, "--id", "qwen-bad")
    assert done.returncode == 0, done.stderr
    fetched = {path.rsplit("/", 1)[-1] for method, path, _ in fake.log if method == "GET" and "/resolve/" in path}
    assert fetched == {"model.onnx.data"}  # the good files of the refused pull were kept and reused


@pytest.mark.slow  # builds and serves the tiny hub repositories
def test_plain_safetensors_are_converted_to_onnx_int4(hub: tuple[FakeHub, str], data_home: Path) -> None:
    pytest.importorskip("onnx_ir")
    _, url = hub
    done = pull(url, data_home, HF_REPO, "--id", "smol-tiny", "--json")
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["layout"] == "hf" and "onnx int4" in card["quantization"]
    assert (Path(card["paths"]["onnx"]) / "genai_config.json").exists()


@pytest.mark.slow  # builds and serves the tiny hub repositories
def test_unknown_repo_and_no_route(hub: tuple[FakeHub, str], data_home: Path) -> None:
    _, url = hub
    done = pull(url, data_home, "nobody/nothing")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("edgeprompt: nobody/nothing")
    with HubServer(FakeHub()) as closed:
        pass  # the port is closed again: nothing listens there
    done = pull(closed, data_home, ONNX_REPO)
    assert done.returncode == 2 and "cannot reach the hub" in done.stderr
    assert not (data_home / "models" / "Qwen2.5-tiny-onnx" / "onnx").exists()


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_layout_from_the_file_list(arch: str) -> None:
    """Every family's safetensors folder reads as "hf"; once quantized by mlx-lm its config says so."""
    from edgeprompt.catalog.pull import layout_of

    names = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "README.md"]
    config = arch_config(arch).to_dict()
    assert layout_of(names, lambda: config) == ("hf", "")
    assert layout_of(names, lambda: {**config, "quantization": {"bits": 4}}) == ("mlx", "")


def test_layout_picks_the_cpu_int4_folder_and_refuses_what_it_cannot_run() -> None:
    from edgeprompt.catalog.pull import layout_of
    from edgeprompt.errors import UsageError

    def never() -> dict[str, Any]:
        raise AssertionError("the file list alone decides this")

    names = [
        "README.md",
        "cuda/cuda-fp16/genai_config.json",
        "cpu_and_mobile/cpu-int4-awq/genai_config.json",
        "cpu_and_mobile/cpu-int4-awq/model.onnx",
        "directml/int4/genai_config.json",
    ]
    assert layout_of(names, never) == ("onnx", "cpu_and_mobile/cpu-int4-awq")
    with pytest.raises(UsageError, match=r"models add FILE\.gguf"):
        layout_of(["model-Q4_K_M.gguf", "README.md"], never)
    with pytest.raises(UsageError, match="not a model repository"):
        layout_of(["README.md", "model.bin", "config.json"], never)


def test_hints_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeprompt.catalog import extras
    from edgeprompt.catalog import pull as hubpull

    monkeypatch.setattr(hubpull, "apple_silicon", lambda: False)
    monkeypatch.setattr(extras, "have_build_tools", lambda: False)
    monkeypatch.setattr(extras, "have_mlx", lambda: False)
    assert "pip install 'edgeprompt[build]'" in (hubpull.runnable_problem("hf") or "")
    assert "Apple silicon" in (hubpull.runnable_problem("mlx") or "")
    assert "pip install 'edgeprompt[mlx]'" in (hubpull.runnable_problem("mlx") or "")
    assert hubpull.runnable_problem("onnx") is None


def test_disk_space_is_checked_against_the_file_sizes(tmp_path: Path) -> None:
    from edgeprompt.catalog.pull import PullPlan, RemoteFile, check_space
    from edgeprompt.errors import NoSpaceError

    files = (RemoteFile("model.safetensors", 3_000_000_000, "0" * 64, None),)
    hf = PullPlan("a/b", "c" * 40, "hf", "", files, "")
    with pytest.raises(NoSpaceError, match=r"needs 4\.87 GB .* 4\.00 GB free"):
        check_space(hf, tmp_path / "models", free=4_000_000_000)  # the int4 copy needs room too
    check_space(PullPlan("a/b", "c" * 40, "mlx", "", files, ""), tmp_path / "models", free=4_000_000_000)
