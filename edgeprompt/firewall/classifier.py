"""The stage-1 classifier at run time: `features.featurize_normalized` → ONNX head → P(attack).

The featurizer needs the MiniLM embedder (`edgeprompt.embed.Embedder.embed_batch`), passed in as `embed`.
A model of the encoder kind (`encoder.FEATURIZER`: MiniLM and its head in one graph) takes token ids instead
and needs no embedder, only the tokenizer of the MiniLM weights package.

The model is looked up first in `<home>/models/firewall/` (installed by `federation import` or
`firewall intel import`), then in the shipped `edgeprompt/shipped/firewall/`. Its `classifier.json` must name a
featurizer this code has (`features.DIMS`) with its dimension, or the model is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprompt.errors import ModelLoadError
from edgeprompt.firewall import encoder, segments
from edgeprompt.firewall.features import DIMS, EMBED_DIM, FEATURIZER, Embed, featurize_normalized
from edgeprompt.firewall.rules import shipped_dir


def check_description(desc: dict[str, Any], where: str) -> None:
    """Refuse a model built for a featurizer this code does not have, another dimension or label order."""
    name = desc.get("featurizer")
    if name == encoder.FEATURIZER:
        pass  # token ids in, no feature width to check
    elif name not in DIMS or int(desc.get("dim", -1)) != DIMS[str(name)]:
        raise ModelLoadError(
            f"{where}: built for featurizer {name!r} dim {desc.get('dim')}, "
            f"this edgeprompt uses {FEATURIZER!r} dim {DIMS[FEATURIZER]}"
        )
    labels = desc.get("labels")
    if not isinstance(labels, list) or "attack" not in labels:
        raise ModelLoadError(f"{where}: classifier.json has no 'attack' label")


def _session(data: bytes, where: str, threads: int = 1) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # a linear head: threads cost more than they save; the encoder: 2
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for a bad file
        raise ModelLoadError(f"{where}: {e}") from e


def _zero_embed(texts: list[str]) -> Any:
    import numpy as np

    return np.zeros((len(texts), EMBED_DIM), dtype=np.float32)


@dataclass
class Classifier:
    session: Any
    description: dict[str, Any]
    origin: str  # installed | shipped
    path: str
    embed: Embed | None = None  # the sentence embedder; loads that only describe or validate need none
    _tokenizer: Any = None  # the encoder kind's tokenizer, loaded on first use

    @classmethod
    def from_bytes(
        cls,
        model: bytes,
        description: dict[str, Any],
        origin: str = "memory",
        path: str = "",
        embed: Embed | None = None,
    ) -> Classifier:
        check_description(description, path or origin)
        kind_encoder = description.get("featurizer") == encoder.FEATURIZER
        session = _session(model, path or origin, 2 if kind_encoder else 1)
        names = [i.name for i in session.get_inputs()]
        if description.get("input") not in names:
            raise ModelLoadError(f"{path or origin}: the model has no input named {description.get('input')!r}")
        clf = cls(session, description, origin, path, embed)
        # fail now, not on the first request
        if kind_encoder:
            clf.predict(["probe"])
        else:
            clf.predict_features(featurize_normalized(["probe"], _zero_embed, None, clf.featurizer))
        return clf

    @classmethod
    def load(cls, models_dir: Path, embed: Embed | None = None) -> Classifier:
        for folder, origin in ((models_dir / "firewall", "installed"), (shipped_dir(), "shipped")):
            onnx_path, json_path = folder / "classifier.onnx", folder / "classifier.json"
            if onnx_path.is_file() and json_path.is_file():
                try:
                    desc = json.loads(json_path.read_text(encoding="utf-8"))
                except ValueError as e:
                    raise ModelLoadError(f"{json_path}: {e}") from e
                return cls.from_bytes(onnx_path.read_bytes(), desc, origin, str(onnx_path), embed)
        raise ModelLoadError("no firewall classifier found; run scripts/train_firewall")

    @property
    def featurizer(self) -> str:
        return str(self.description["featurizer"])

    @property
    def attack_column(self) -> int:
        return list(self.description["labels"]).index("attack")

    def predict_features(self, x: Any) -> Any:
        return self._run({self.description["input"]: x})

    def _run(self, feeds: dict[str, Any]) -> Any:
        outputs = list(self.description.get("outputs", ["logits", "probabilities"]))
        name = "probabilities" if "probabilities" in outputs else outputs[0]
        (probs,) = self.session.run([name], feeds)
        if name != "probabilities":  # a head that only gives logits: softmax here
            import numpy as np

            e = np.exp(probs - probs.max(axis=1, keepdims=True))
            probs = e / e.sum(axis=1, keepdims=True)
        return probs[:, self.attack_column]

    def predict(self, normalized_texts: Sequence[str], context: str = "user") -> list[float]:
        """P(attack) for each already-normalised text, all read in one context (user, document or tool)."""
        if not normalized_texts:
            return []
        if self.featurizer == encoder.FEATURIZER:
            if self._tokenizer is None:
                self._tokenizer = encoder.load_tokenizer()
            b = encoder.encode(
                self._tokenizer,
                normalized_texts,
                [context] * len(normalized_texts),
                int(self.description.get("max_tokens", encoder.MAX_TOKENS)),
            )
            return [float(p) for p in self._run({"input_ids": b.input_ids, "attention_mask": b.attention_mask})]
        if self.embed is None and self.featurizer == FEATURIZER:
            raise ModelLoadError("the firewall classifier was loaded without the sentence embedder it needs")
        x = featurize_normalized(
            normalized_texts, self.embed or _zero_embed, [context] * len(normalized_texts), self.featurizer
        )
        return [float(p) for p in self.predict_features(x)]

    @property
    def segment_shift(self) -> float | None:
        """The margin shift of a window's score (`segments`), or None for a model trained without windows."""
        value = self.description.get("segment_shift")
        return None if value is None else float(value)

    def segment_score(self, normalized_text: str, context: str = "user") -> float:
        """The strongest P(attack) over the text's sentence windows at the windows' own operating point;
        0.0 for a short text or a model without one."""
        shift = self.segment_shift
        if shift is None:
            return 0.0
        wins = segments.windows(segments.scanned_part(normalized_text, context))
        if not wins:
            return 0.0
        p = min(max(max(self.predict(wins, context)), 1e-7), 1 - 1e-7)
        return 1.0 / (1.0 + math.exp(-(math.log(p / (1.0 - p)) + shift)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "path": self.path,
            "featurizer": self.description.get("featurizer"),
            "dim": self.description.get("dim"),
            "hidden": self.description.get("hidden"),
            "segment_shift": self.segment_shift,
            "trained": self.description.get("trained", {}),
        }
