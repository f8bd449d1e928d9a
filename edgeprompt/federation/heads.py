"""The classifier heads federated training can improve, described once for trainer, coordinator and importer.

A `HeadSpec` ties a task to the code its owner ships: the featurizer the runtime uses (so federated
weights fit the live model), the torch module, the ONNX writer and the loader's own validation. The
firewall's head lives in `edgeprompt.firewall` (features, head, classifier); the router's in
`edgeprompt.routing.router`. Nothing here re-implements them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import ModelLoadError, UsageError

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.firewall.features import Embed

TASKS = ("firewall", "router")


@dataclass(frozen=True)
class HeadSpec:
    task: str
    pack_kind: str  # the signed pack's kind (edgeprompt.signing)
    labels: tuple[str, ...]  # output column order
    input_dim: int
    # (embed, raw texts) -> float32 [n, input_dim], on this laptop; `embed` is this laptop's MiniLM, called only by
    # a featurizer that reads sentence vectors (so the caller passes one that loads the embedder on first use)
    featurize: Callable[[Embed, list[str]], np.ndarray]
    build: Callable[[int, int], Any]  # (hidden, seed) -> torch.nn.Module
    export: Callable[[Any, Path, dict[str, Any]], tuple[Path, Path]]  # -> (classifier.onnx, classifier.json)
    validate: Callable[[bytes, dict[str, Any]], None]  # load as the runtime would; raises if unusable
    default_hidden: int
    shipped: Callable[[], tuple[int, dict[str, Any]]]  # (hidden, torch state dict) of the head edgeprompt ships

    def folder(self, models_dir: Path) -> Path:
        """Where the runtime loader looks first: `<data home>/models/<task>/`."""
        return models_dir / self.task


def _firewall() -> HeadSpec:
    from edgeprompt.firewall import features, head
    from edgeprompt.firewall.classifier import Classifier
    from edgeprompt.firewall.rules import shipped_dir

    # federated rounds improve the head edgeprompt ships, so they use its featurizer (and input width)
    shipped_desc = json.loads((shipped_dir() / "classifier.json").read_text())
    featurizer = str(shipped_desc["featurizer"])
    dim = features.DIMS[featurizer]

    def featurize(embed: Embed, texts: list[str]) -> np.ndarray:
        return features.featurize(texts, embed, None, featurizer)

    def export(module: Any, folder: Path, extra: dict[str, Any]) -> tuple[Path, Path]:
        return head.export(module, folder, **extra)

    def validate(model: bytes, description: dict[str, Any]) -> None:
        Classifier.from_bytes(model, description, origin="pack")

    def shipped() -> tuple[int, dict[str, Any]]:
        return int(shipped_desc.get("hidden", 0)), head.state_from_onnx(shipped_dir() / "classifier.onnx")

    return HeadSpec(
        "firewall",
        "firewall-model",
        tuple(head.LABELS),
        dim,
        featurize,
        lambda hidden, seed: head.build(dim, hidden, seed),
        export,
        validate,
        int(shipped_desc.get("hidden", head.HIDDEN)),
        shipped,
    )


def _router() -> HeadSpec:
    import tempfile

    from edgeprompt.routing import head as routing_head
    from edgeprompt.routing.router import router_text
    from edgeprompt.routing.rules import TAGS

    def featurize(embed: Embed, texts: list[str]) -> np.ndarray:
        return embed([router_text(t) for t in texts])

    def export(module: Any, folder: Path, extra: dict[str, Any]) -> tuple[Path, Path]:
        hidden = int(getattr(module[0], "out_features", 0)) if len(module) > 1 else 0
        shipped = routing_head.HeadMeta.read(routing_head.shipped_dir() / routing_head.META_FILE).extra
        keep: dict[str, Any] = {
            k: shipped[k] for k in ("embedder", "embedder_hash", "router_text_max_chars") if k in shipped
        }
        onnx_path = routing_head.export_head(
            module, list(TAGS), folder, {**keep, "arch": "mlp" if hidden else "linear", "hidden": hidden, **extra}
        )
        return onnx_path, folder / routing_head.META_FILE

    def validate(model: bytes, description: dict[str, Any]) -> None:
        if list(description.get("labels", [])) != list(TAGS):
            raise ModelLoadError(f"router head labels {description.get('labels')} != {list(TAGS)}")
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / routing_head.ONNX_FILE).write_bytes(model)
            (Path(tmp) / routing_head.META_FILE).write_text(json.dumps(description))
            routing_head.RouterHead(Path(tmp))

    def shipped() -> tuple[int, dict[str, Any]]:
        folder = routing_head.shipped_dir()
        hidden = int(routing_head.HeadMeta.read(folder / routing_head.META_FILE).extra.get("hidden", 0))
        return hidden, routing_head.head_state_from_onnx(folder / routing_head.ONNX_FILE)

    return HeadSpec(
        "router",
        "router-model",
        tuple(TAGS),
        routing_head.DIM,
        featurize,
        lambda hidden, seed: routing_head.torch_head(len(TAGS), hidden),
        export,
        validate,
        0,
        shipped,
    )


def head_spec(task: str) -> HeadSpec:
    if task == "firewall":
        return _firewall()
    if task == "router":
        return _router()
    raise UsageError(f"unknown federated task '{task}' (known: {', '.join(TASKS)})")


def task_for_pack_kind(kind: str) -> str:
    for task in TASKS:
        if kind == f"{task}-model":
            return task
    raise UsageError(
        f"a '{kind}' pack is not a model pack this command installs (firewall-model, router-model, lm-adapter)"
    )
