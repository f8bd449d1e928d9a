"""Helpers for the federation tests: a user's budget in config.toml, hand-built Flower messages and contexts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def set_budget(home: Path, budget: float) -> None:
    """Write a [federation] epsilon_budget into the home's config.toml (the user's own cap)."""
    from edgeprompt.runtime import Runtime

    Runtime.open(home).close()  # writes the documented defaults first
    cfg = home / "config.toml"
    text = cfg.read_text().replace("epsilon_budget = 8.0", f"epsilon_budget = {budget!r}")
    assert f"epsilon_budget = {budget!r}" in text
    cfg.write_text(text)


def instruction(content: Any, message_type: str = "train", run_id: int = 7, node_id: int = 11,
                server_round: int = 1) -> Any:
    """A coordinator → laptop message as the SuperNode would deliver it (metadata given explicitly)."""
    from flwr.app import Message, Metadata

    md = Metadata(run_id=run_id, message_id=f"m-{time.time_ns()}", src_node_id=0, dst_node_id=node_id,
                  reply_to_message_id="", group_id=str(server_round), created_at=time.time(), ttl=3600.0,
                  message_type=message_type)
    return Message(content, metadata=md)


def train_message(model: Any, config: dict[str, Any], message_type: str = "train") -> Any:
    from flwr.app import ArrayRecord, ConfigRecord, RecordDict

    return instruction(RecordDict({"arrays": ArrayRecord(model.state_dict()), "config": ConfigRecord(config)}),
                       message_type)


def context(home: Path, run_config: dict[str, Any] | None = None, node_id: int = 11, run_id: int = 7) -> Any:
    from flwr.app import Context, RecordDict

    return Context(run_id=run_id, node_id=node_id, node_config={"data-home": str(home)}, state=RecordDict(),
                   run_config=run_config or {})
