"""The stage-1 classifier at run time: `features.featurize_normalized` → ONNX head → P(attack).

The model is looked up first in `<home>/models/firewall/` (installed by `federation import` or
`firewall intel import`), then in the shipped `models/firewall/`. Its `classifier.json` must name the
same featurizer and dimension as this code, or the model is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprompt.errors import ModelLoadError
from edgeprompt.firewall.features import DIM, FEATURIZER, featurize_normalized
from edgeprompt.firewall.rules import shipped_dir


def check_description(desc: dict[str, Any], where: str) -> None:
    """Refuse a model built for another featurizer, dimension or label order."""
    if desc.get("featurizer") != FEATURIZER or int(desc.get("dim", -1)) != DIM:
        raise ModelLoadError(f"{where}: built for featurizer {desc.get('featurizer')!r} dim {desc.get('dim')}, "
                             f"this edgeprompt uses {FEATURIZER!r} dim {DIM}")
    labels = desc.get("labels")
    if not isinstance(labels, list) or "attack" not in labels:
        raise ModelLoadError(f"{where}: classifier.json has no 'attack' label")


def _session(data: bytes, where: str) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a few hundred thousand weights: threads cost more than they save
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for a bad file
        raise ModelLoadError(f"{where}: {e}") from e


@dataclass
class Classifier:
    session: Any
    description: dict[str, Any]
    origin: str  # installed | shipped
    path: str

    @classmethod
    def from_bytes(cls, model: bytes, description: dict[str, Any], origin: str = "memory",
                   path: str = "") -> Classifier:
        check_description(description, path or origin)
        session = _session(model, path or origin)
        names = [i.name for i in session.get_inputs()]
        if description.get("input") not in names:
            raise ModelLoadError(f"{path or origin}: the model has no input named {description.get('input')!r}")
        clf = cls(session, description, origin, path)
        clf.predict_features(featurize_normalized(["probe"]))  # fail now, not on the first request
        return clf

    @classmethod
    def load(cls, models_dir: Path) -> Classifier:
        for folder, origin in ((models_dir / "firewall", "installed"), (shipped_dir(), "shipped")):
            onnx_path, json_path = folder / "classifier.onnx", folder / "classifier.json"
            if onnx_path.is_file() and json_path.is_file():
                try:
                    desc = json.loads(json_path.read_text(encoding="utf-8"))
                except ValueError as e:
                    raise ModelLoadError(f"{json_path}: {e}") from e
                return cls.from_bytes(onnx_path.read_bytes(), desc, origin, str(onnx_path))
        raise ModelLoadError("no firewall classifier found; run scripts/train_firewall")

    @property
    def attack_column(self) -> int:
        return list(self.description["labels"]).index("attack")

    def predict_features(self, x: Any) -> Any:
        outputs = list(self.description.get("outputs", ["logits", "probabilities"]))
        name = "probabilities" if "probabilities" in outputs else outputs[0]
        (probs,) = self.session.run([name], {self.description["input"]: x})
        if name != "probabilities":  # a head that only gives logits: softmax here
            import numpy as np

            e = np.exp(probs - probs.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
        return probs[:, self.attack_column]

    def predict(self, normalized_texts: Sequence[str]) -> list[float]:
        """P(attack) for each already-normalised text."""
        if not normalized_texts:
            return []
        return [float(p) for p in self.predict_features(featurize_normalized(normalized_texts))]

    def as_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "path": self.path, "featurizer": self.description.get("featurizer"),
                "dim": self.description.get("dim"), "hidden": self.description.get("hidden"),
                "trained": self.description.get("trained", {})}
