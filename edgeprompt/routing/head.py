"""The router's classifier head: a tiny torch-trainable model over the 384-d MiniLM embedding, run in ONNX.

Contract (shared with federated training, which retrains the head and ships it back as a signed pack):
input float32 `[batch, 384]` named in `classifier.json` ("embedding"), outputs `logits` and
`probabilities` `[batch, n_tags]` in the label order written in `classifier.json`. The loader prefers
`<data home>/models/router/` (installed by `federation import`) and falls back to the shipped
`edgeprompt/shipped/router/`. torch is needed only to train and export (`torch_head`, `export_head`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.paths import Paths

ONNX_FILE = "classifier.onnx"
OPERATING_POINT = ("fit_threshold", "rule_boost")  # how the router combines the head with its rules
META_FILE = "classifier.json"
DIM = 384


def shipped_dir() -> Path:
    return Path(str(resources.files("edgeprompt.shipped") / "router"))


def user_dir(paths: Paths) -> Path:
    return paths.models / "router"


def locate(paths: Paths) -> Path:
    """The folder to load: the data home's head when it is complete, else the shipped one."""
    mine = user_dir(paths)
    if (mine / ONNX_FILE).is_file() and (mine / META_FILE).is_file():
        return mine
    return shipped_dir()


@dataclass(frozen=True)
class HeadMeta:
    labels: tuple[str, ...]
    input: str
    output: str  # the probabilities output
    dim: int
    extra: dict[str, Any]  # tuned thresholds, training figures, provenance

    @classmethod
    def read(cls, path: Path) -> HeadMeta:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            labels = tuple(str(x) for x in raw["labels"])
            meta = cls(
                labels,
                str(raw.get("input", "embedding")),
                str(raw.get("output", "probabilities")),
                int(raw.get("dim", DIM)),
                raw,
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"router head metadata {path}: {e}") from e
        if not labels or len(set(labels)) != len(labels):
            raise ModelLoadError(f"router head metadata {path}: labels must be distinct and non-empty")
        return meta


class RouterHead:
    """One onnxruntime session on one thread: the head is a single small matmul, threads only cost."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort

        self.folder = folder
        self.meta = HeadMeta.read(folder / META_FILE)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(folder / ONNX_FILE), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ModelLoadError(f"router head {folder / ONNX_FILE}: {e}") from e
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        if self.meta.input not in inputs or self.meta.output not in outputs:
            raise ModelLoadError(
                f"router head {folder}: expected input '{self.meta.input}' and output "
                f"'{self.meta.output}', found {sorted(inputs)} -> {sorted(outputs)}"
            )
        width = outputs[self.meta.output][-1]
        if isinstance(width, int) and width != len(self.meta.labels):
            raise ModelLoadError(f"router head {folder}: {width} outputs but {len(self.meta.labels)} labels")
        missing = [k for k in OPERATING_POINT if k not in self.meta.extra]
        if missing and folder != shipped_dir():  # a retrained head without its own operating point: the shipped one
            shipped = HeadMeta.read(shipped_dir() / META_FILE).extra
            self.meta = replace(
                self.meta, extra={**{k: shipped[k] for k in missing if k in shipped}, **self.meta.extra}
            )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.meta.labels

    @property
    def source(self) -> str:
        return "shipped" if self.folder == shipped_dir() else "installed"

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """[n, n_labels] probabilities for [n, 384] unit embeddings."""
        import numpy as np

        x = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(-1, self.meta.dim)
        probs: np.ndarray = self.session.run([self.meta.output], {self.meta.input: x})[0]
        return probs


# -- training side (torch; scripts/train_router and federated training) ------------------------------


def torch_head(n_labels: int, hidden: int = 0, dim: int = DIM) -> Any:
    """The trainable head: linear (hidden=0) or one hidden layer; returns logits. Opacus-compatible."""
    import torch

    if hidden <= 0:
        return torch.nn.Sequential(torch.nn.Linear(dim, n_labels))
    return torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_labels))


def export_head(model: Any, labels: list[str], folder: Path, extra: dict[str, Any]) -> Path:
    """Write classifier.onnx (logits + softmax probabilities) and classifier.json into `folder`."""
    import warnings

    import torch

    class WithProbabilities(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, embedding: Any) -> Any:
            logits = self.inner(embedding)
            return logits, torch.softmax(logits, dim=-1)

    folder.mkdir(parents=True, exist_ok=True)
    wrapped = WithProbabilities(model.eval()).eval()
    tmp = folder / (ONNX_FILE + ".tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (torch.zeros(2, DIM),),
            str(tmp),
            input_names=["embedding"],
            output_names=["logits", "probabilities"],
            dynamic_axes={"embedding": {0: "batch"}, "logits": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    meta = {
        "labels": list(labels),
        "input": "embedding",
        "output": "probabilities",
        "logits": "logits",
        "dim": DIM,
        **extra,
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / ONNX_FILE)
    return folder / ONNX_FILE


def head_state_from_onnx(path: Path) -> dict[str, Any]:
    """The head's weights as a torch `state_dict` (to start federated rounds from the shipped head)."""
    import onnx
    import torch
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state = {}
    for name, arr in tensors.items():
        key = name.removeprefix("inner.")
        if key.endswith((".weight", ".bias")):
            state[key] = torch.from_numpy(arr.copy())
    if not state:
        raise ModelLoadError(f"{path}: no weights found")
    return state
