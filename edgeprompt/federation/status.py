"""This laptop's part in federated training, as one JSON-ready object (`federation status`, the app's
federation screen), and the consent text a person reads before joining."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.paths import Paths
    from edgeprompt.store.db import Database

CONSENT = """\
Joining federation at {superlink} ({transport}).

This laptop will run the coordinator's training code on the labelled examples in {home}
({counts}). What leaves this machine: model weights trained with differential privacy (clipped
per example, with Gaussian noise) and scalar metrics (loss, accuracy, ε). What never leaves it: your
text, documents, chats, features, embeddings and labels.
For the language model (task lm-lora) the examples are the answers you thumbed up or edited
({answers}); only LoRA adapter weights leave, never the questions, answers or their tokens.
Privacy budget: ε ≤ {budget:g} per model at δ = {delta:g}; training is refused once a round would
exceed it (`edgeprompt federation status` shows what is spent). Stop any time: `edgeprompt federation leave`.
"""


def example_counts(db: Database) -> dict[str, int]:
    from edgeprompt.store.examples import ExampleStore

    return {task: sum(labels.values()) for task, labels in ExampleStore(db).counts().items()}


def budgets(db: Database, fed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per model (task): ε spent against the budget at δ (from the [federation] settings `fed`), and the number of
    releases."""
    from edgeprompt.federation.heads import TASKS
    from edgeprompt.federation.ledger import PrivacyLedger

    ledger = PrivacyLedger(db)
    tasks = sorted(set(TASKS) | set(ledger.tasks()))
    return [ledger.budget(t, float(fed["epsilon_budget"]), float(fed["delta"])).as_dict() for t in tasks]


def installed_models(models: Path) -> dict[str, Any]:
    """The heads and adapters installed under the data home's models folder `models`."""
    out: dict[str, Any] = {}
    for task in ("firewall", "router"):
        desc = models / task / "classifier.json"
        trained: Any = None
        if desc.exists():
            try:
                trained = json.loads(desc.read_text()).get("trained")
            except ValueError:
                trained = "unreadable classifier.json"
        out[task] = {"installed": desc.exists(), "trained": trained}
    from edgeprompt.federation.adapters import installed

    return {**out, **installed(models)}  # language-model adapters, by derived model id


def status(db: Database, paths: Paths, fed: Mapping[str, Any], events: int = 10) -> dict[str, Any]:
    """budgets, the last `events` rounds, labelled-example counts, the node (None unless running), models."""
    from edgeprompt.federation import node
    from edgeprompt.federation.ledger import PrivacyLedger

    state = node.running(paths)
    return {
        "budgets": budgets(db, fed),
        "events": PrivacyLedger(db).events(events),
        "examples": example_counts(db),
        "node": asdict(state) if state else None,
        "models": installed_models(paths.models),
    }


def consent_text(db: Database, home: Path, fed: Mapping[str, Any], superlink: str, insecure: bool) -> str:
    """What joining means for this data home (`home`, its database `db`, the [federation] settings `fed`)."""
    from edgeprompt.federation import lmdata

    counts = example_counts(db)
    answers = ", ".join(f"{k}: {v}" for k, v in lmdata.counts(lmdata.chosen_examples(db)).items())
    return CONSENT.format(
        superlink=superlink,
        transport="no TLS" if insecure else "TLS",
        home=home,
        answers=answers,
        counts=", ".join(f"{k}: {v}" for k, v in counts.items()) or "none yet",
        budget=float(fed["epsilon_budget"]),
        delta=float(fed["delta"]),
    )
