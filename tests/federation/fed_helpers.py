"""Helpers for the federation tests: a user's budget in config.toml, hand-built Flower messages and contexts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def set_budget(home: Path, budget: float) -> None:
    """Write a [federation] epsilon_budget into the home's config.toml (the user's own cap)."""
    from edgeprompt.app import Runtime

    Runtime.open(home).close()  # writes the documented defaults first
    cfg = home / "config.toml"
    text = cfg.read_text().replace("epsilon_budget = 8.0", f"epsilon_budget = {budget!r}")
    assert f"epsilon_budget = {budget!r}" in text
    cfg.write_text(text)


def seed_laptops(base: Path, per_family: int) -> list[Path]:
    """Two data homes under `base`, each seeded with its own slice of labelled firewall examples."""
    from edgeprompt.app import Runtime
    from edgeprompt.federation import seeds

    homes = [base / "laptop0", base / "laptop1"]
    for i, home in enumerate(homes):
        with Runtime.open(home) as rt:
            seeds.seed_firewall(rt.db, i, per_family=per_family)
    return homes


def instruction(
    content: Any, message_type: str = "train", run_id: int = 7, node_id: int = 11, server_round: int = 1
) -> Any:
    """A coordinator → laptop message as the SuperNode would deliver it (metadata given explicitly)."""
    from flwr.app import Message, Metadata

    md = Metadata(
        run_id=run_id,
        message_id=f"m-{time.time_ns()}",
        src_node_id=0,
        dst_node_id=node_id,
        reply_to_message_id="",
        group_id=str(server_round),
        created_at=time.time(),
        ttl=3600.0,
        message_type=message_type,
    )
    return Message(content, metadata=md)


def train_message(model: Any, config: dict[str, Any], message_type: str = "train") -> Any:
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    return instruction(
        RecordDict({"arrays": ArrayRecord(model.state_dict()), "config": ConfigRecord(config)}), message_type
    )


def context(home: Path, run_config: dict[str, Any] | None = None, node_id: int = 11, run_id: int = 7) -> Any:
    from flwr.app import Context, RecordDict

    return Context(
        run_id=run_id,
        node_id=node_id,
        node_config={"data-home": str(home)},
        state=RecordDict(),
        run_config=run_config or {},
    )


class InProcessGrid:
    """The coordinator's transport replaced by direct calls: each message goes to the real ClientApp with the
    Context its node would have (one data home per node), so the real ServerApp runs every round in this
    process. Only the transport (SuperLink, SuperNodes, HTTP, fresh processes) is left out."""

    def __init__(self, homes: list[Path], run_id: int = 9, run_config: dict[str, Any] | None = None) -> None:
        from flwr.app import RecordDict

        self.run_id = run_id
        self.nodes = {100 + i: home for i, home in enumerate(homes)}
        self.states = {node: RecordDict() for node in self.nodes}  # context.state lives as long as the run
        self.run_config = run_config or {}
        self.sent: list[Any] = []  # every reply a laptop sent, as the coordinator received it

    def get_node_ids(self) -> list[int]:
        return list(self.nodes)

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> list[Any]:
        from edgefed import client_app
        from flwr.app import Context

        replies = []
        for i, msg in enumerate(messages):
            msg.metadata.__dict__["_message_id"] = f"m-{time.time_ns()}-{i}"  # as Flower's InMemoryGrid does
            node = msg.metadata.dst_node_id
            ctx = Context(
                run_id=self.run_id,
                node_id=node,
                node_config={"data-home": str(self.nodes[node])},
                state=self.states[node],
                run_config=self.run_config,
            )
            replies.append(client_app.app(msg, ctx))
        self.sent += replies
        return replies


def run_server(grid: InProcessGrid, run_config: dict[str, Any]) -> None:
    """The real ServerApp's main on the in-process grid (Flower's task identity set as its runtime would)."""
    from edgefed import server_app
    from flwr.app import Context, RecordDict
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = grid.run_id, 0, 1
    try:
        ctx = Context(run_id=grid.run_id, node_id=0, node_config={}, state=RecordDict(), run_config=run_config)
        server_app.main(grid, ctx)  # type: ignore[arg-type]
    finally:
        TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved
