"""This laptop's part in federated training, as one JSON-ready object (`federation status`, the app's
federation screen), and the consent text a person reads before joining."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprompt.app import Runtime

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


def example_counts(rt: Runtime) -> dict[str, int]:
    from edgeprompt.store.examples import ExampleStore

    return {task: sum(labels.values()) for task, labels in ExampleStore(rt.db).counts().items()}


def budgets(rt: Runtime) -> list[dict[str, Any]]:
    """Per model (task): ε spent against the budget at δ, and the number of releases."""
    from edgeprompt.federation.heads import TASKS
    from edgeprompt.federation.ledger import PrivacyLedger

    fed = rt.settings.section("federation")
    ledger = PrivacyLedger(rt.db)
    tasks = sorted(set(TASKS) | set(ledger.tasks()))
    return [ledger.budget(t, float(fed["epsilon_budget"]), float(fed["delta"])).as_dict() for t in tasks]


def installed_models(rt: Runtime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for task in ("firewall", "router"):
        desc = rt.paths.models / task / "classifier.json"
        trained: Any = None
        if desc.exists():
            try:
                trained = json.loads(desc.read_text()).get("trained")
            except ValueError:
                trained = "unreadable classifier.json"
        out[task] = {"installed": desc.exists(), "trained": trained}
    from edgeprompt.federation.adapters import installed

    return {**out, **installed(rt.paths.models)}  # language-model adapters, by derived model id


def status(rt: Runtime, events: int = 10) -> dict[str, Any]:
    """budgets, the last `events` rounds, labelled-example counts, the node (None unless running), models."""
    from edgeprompt.federation import node
    from edgeprompt.federation.ledger import PrivacyLedger

    state = node.running(rt.paths)
    return {
        "budgets": budgets(rt),
        "events": PrivacyLedger(rt.db).events(events),
        "examples": example_counts(rt),
        "node": asdict(state) if state else None,
        "models": installed_models(rt),
    }


def consent_text(rt: Runtime, superlink: str, insecure: bool) -> str:
    from edgeprompt.federation import lmdata

    fed = rt.settings.section("federation")
    counts = example_counts(rt)
    answers = ", ".join(f"{k}: {v}" for k, v in lmdata.counts(lmdata.chosen_examples(rt.db)).items())
    return CONSENT.format(
        superlink=superlink,
        transport="no TLS" if insecure else "TLS",
        home=rt.home,
        answers=answers,
        counts=", ".join(f"{k}: {v}" for k, v in counts.items()) or "none yet",
        budget=float(fed["epsilon_budget"]),
        delta=float(fed["delta"]),
    )
