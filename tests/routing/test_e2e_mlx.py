"""End to end with the tiny MLX model (built once per session by the shared `tiny_model` fixture): a tool call
and a whole plan through the real mlx-lm backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from routing_helpers import write_config

pytest.importorskip("mlx_lm")


@pytest.fixture
def mlx_home(linked_home: Path, tiny_model: Any) -> Path:
    from edgeprompt.app import Runtime

    write_config(
        linked_home, '[model]\nbackend = "mlx"\n[generation]\nmax_tokens = 24\n[plans]\nstep_max_tokens = 16\n'
    )
    with Runtime.open(linked_home) as rt:
        rt.catalog.add(tiny_model.card)
    return linked_home


def test_tools_with_the_tiny_mlx_model(mlx_home: Path, cli: Any) -> None:
    code, out, err = cli("tools", "ask", "/calc 6*7", "-m", "tiny", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["mode"] == "explicit" and res["model"] == "tiny" and res["tools"][0]["output"]["value"] == 42
    assert res["answer"] and res["finish_reason"] in ("stop", "length")
    from edgeprompt.app import Runtime

    with Runtime.open(mlx_home) as rt:
        trace = rt.traces.get(res["trace_id"])
        names = [s["name"] for s in trace["spans"]]
        assert names == ["route", "tool.call", "generate"] and rt.backend("tiny").name == "mlx"


def test_plan_with_the_tiny_mlx_model(mlx_home: Path, cli: Any) -> None:
    out_file = mlx_home / "memo.md"
    code, out, err = cli(
        "plan", "write a short memo on the budget of 1200 * 1.2", "-m", "tiny", "--out", str(out_file), "--json"
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["status"] == "ok" and out_file.exists()
    # the tiny model cannot write a JSON plan, so the rule plan takes over and says so
    assert res["method"] == "rules" and "used the rule plan" in res["notes"][0]
    model_steps = [s for s in res["steps"] if s["action"] in ("analyse", "draft")]
    assert model_steps and all(s["model"] == "tiny" and s["status"] == "ok" for s in model_steps)
    assert "1200 * 1.2 = 1440" in out_file.read_text()
