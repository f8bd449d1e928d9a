"""Fixtures for the document tests: a session-wide index of the sample documents (copied into each test's
data home), tiny corpora written per test, and a simple chunk scanner standing in for the firewall's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rag_helpers import SAMPLES


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample documents indexed once per session; returns the closed database file."""
    from edgeprompt.app import Runtime

    home = tmp_path_factory.mktemp("samples-home")
    with Runtime.open(home) as rt:
        summary = rt.documents().indexer.add([SAMPLES])
        assert summary.indexed == len([p for p in SAMPLES.rglob("*") if p.is_file()])
    return home / "edgeprompt.db"


@pytest.fixture
def samples_home(embed_home: Path, sample_db: Path) -> Path:
    """This test's data home, holding a copy of the indexed samples."""
    embed_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_db, embed_home / "edgeprompt.db")
    return embed_home


@pytest.fixture
def rt(embed_home: Path):  # type: ignore[no-untyped-def]
    from edgeprompt.app import Runtime

    runtime = Runtime.open(embed_home)
    yield runtime
    runtime.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small folder of personal notes in three formats."""
    root = tmp_path / "docs"
    (root / "notes").mkdir(parents=True)
    (root / "lease.md").write_text(
        "# Lease for the river flat\n\n## Rent\n\nThe monthly rent is 1,200 euros, due on the 5th.\n\n"
        "## Deposit\n\nThe deposit is 2,400 euros and is returned within 30 days.\n",
        encoding="utf-8",
    )
    (root / "notes" / "garden.txt").write_text(
        "GARDEN\n\nWater the tomatoes every morning in July.\n\nThe compost bin is emptied in October.\n",
        encoding="utf-8",
    )
    (root / "notes" / "plants.csv").write_text(
        "plant,watering,light\nbasil,daily,full sun\nfern,weekly,shade\n", encoding="utf-8"
    )
    return root
