"""Fixtures for the federation tests: the Flower App importable, one torch thread, a seeded laptop, a head."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

APP_DIR = Path(__file__).resolve().parents[2] / "federation"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))


@pytest.fixture(autouse=True)
def one_thread() -> None:
    from edgefed import task

    task.set_threads()


@pytest.fixture
def seeded_home(data_home: Path) -> Path:
    """This test's data home holding laptop 0's slice of firewall examples."""
    from edgeprompt.app import Runtime
    from edgeprompt.federation import seeds

    with Runtime.open(data_home) as rt:
        seeds.seed_firewall(rt.db, 0, per_family=40)
    return data_home


@pytest.fixture
def firewall_model() -> Iterator[Any]:
    from edgefed import task

    from edgeprompt.federation.heads import head_spec

    yield task.build_model(head_spec("firewall"), 0)


# -- language-model adapters (task lm-lora) on the session's tiny model ------------------------------------------
@pytest.fixture
def lm_home(data_home: Path, tiny_model: Any) -> Path:
    """This test's data home with the tiny model as 'tiny' and laptop 0's rated and edited answers."""
    from edgeprompt.app import Runtime
    from edgeprompt.federation import lmseeds

    with Runtime.open(data_home) as rt:
        rt.catalog.add(tiny_model.card)
        lmseeds.seed_lm(rt.db, 0, n=30, model="tiny")
    return data_home


@pytest.fixture
def lm_config(tiny_model: Any) -> dict[str, Any]:
    """The run config a coordinator sends for lm-lora on the tiny model (round 1), fingerprint included."""
    from edgefed import task

    from edgeprompt.federation.lora import fingerprint

    return task.run_config(
        {
            "task": "lm-lora",
            "lm-model": "tiny",
            "lm-base": str(tiny_model.hf),
            "lm-fingerprint": fingerprint(tiny_model.hf),
            "noise-multiplier": 1.5,
            "server-round": 1,
        }
    )
