"""Real clients and real models: the `llm` CLI through its extra-openai-models.yaml, and the tiny model on both
backends (onnx, mlx) through the `openai` client, streaming and not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

LLM = Path(sys.executable).with_name("llm")


def _llm(user_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LLM_USER_PATH": str(user_path)}
    return subprocess.run([str(LLM), *args], capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.skipif(not LLM.exists(), reason="the llm CLI is not installed (test extra)")
@pytest.mark.slow  # the llm CLI as a subprocess against a real server
def test_llm_cli_as_a_client(serve: Any, tmp_path: Path) -> None:
    srv = serve('[model]\ndefault = "echo"\n', api_key="k3y")
    user = tmp_path / "llm"
    user.mkdir()
    (user / "extra-openai-models.yaml").write_text(
        f'- model_id: edgeprompt\n  model_name: auto\n  api_base: "{srv.url}"\n  api_key_name: edgeprompt\n',
        encoding="utf-8",
    )
    (user / "keys.json").write_text(json.dumps({"edgeprompt": "k3y"}), encoding="utf-8")
    streamed = _llm(user, "-m", "edgeprompt", "herons fish at dawn")
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.strip() == "herons fish at dawn"
    whole = _llm(user, "-m", "edgeprompt", "--no-stream", "-s", "Answer briefly.", "egrets too")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.strip() == "egrets too"
    # llm keeps its own log of the exchange; edgeprompt's traces have both
    assert srv.rt.db.query_one("SELECT count(*) FROM traces")[0] == 2
    wrong = _llm(user, "-m", "edgeprompt", "--key", "nope", "hi")
    assert wrong.returncode != 0 and "401" in wrong.stderr


@pytest.mark.parametrize("kind", ["onnx", "mlx"])
def test_tiny_model_on_each_backend(serve: Any, client: Any, tiny_model: Any, kind: str) -> None:
    if kind == "mlx":
        pytest.importorskip("mlx_lm")
    srv = serve(f'[model]\nbackend = "{kind}"\n', setup=lambda rt: rt.catalog.add(tiny_model.card))
    c = client(srv)
    msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is a heron?"}]
    whole = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=12, temperature=0, seed=1)
    assert whole.model == "tiny" and whole.choices[0].finish_reason in ("stop", "length")
    assert 1 <= whole.usage.completion_tokens <= 12
    ep = whole.model_extra["edgeprompt"]
    assert ep["backend"] == kind
    chunks = list(
        c.chat.completions.create(
            model="tiny",
            messages=msgs,
            max_tokens=12,
            temperature=0,
            seed=1,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    # the same greedy request streams the same answer (the second is a cache hit of the first, or equal to it)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    trace = srv.rt.traces.get(ep["trace_id"])
    gen = next(s for s in trace["spans"] if s["name"] == "generate")
    assert gen["attributes"]["gen_ai.request.max_tokens"] == 12 and gen["attributes"]["gen_ai.request.seed"] == 1
