"""The classifier head: a small torch model over `features.featurize` vectors, exported to ONNX.

Shared by `scripts/train_firewall` and federated training (issue 9): build the head with `build`,
train it however you like (plain SGD, Opacus DP-SGD), then `export` writes `classifier.onnx` and
its description `classifier.json` (input name and dimension, output names, label order).
The ONNX graph is written directly with `onnx.helper` (Gemm → Relu → Gemm → Softmax), so the export
does not depend on the torch exporter's version. Weights are stored as int8 with one scale per output
unit (DequantizeLinear before each Gemm): a quarter of the size, and the activations stay float, so a
prediction does not depend on what else is in the batch (dynamic activation quantization would).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeprompt.firewall.features import DIM, DIMS, FEATURIZER

FORMAT = "edgeprompt-firewall-classifier/1"
INPUT = "features"
OUTPUTS = ("logits", "probabilities")
LABELS = ("benign", "attack")  # column order of the outputs
HIDDEN = 0  # a linear head (scripts/train_firewall fits it as a logistic regression)


def build(dim: int = DIM, hidden: int = HIDDEN, seed: int = 0) -> Any:
    """A torch module: Linear(dim, 2) when hidden=0, else Linear(dim, hidden) → ReLU → Linear(hidden, 2)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    if hidden <= 0:
        return nn.Sequential(nn.Linear(dim, len(LABELS)))
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, len(LABELS)))


def _linears(module: Any) -> list[tuple[Any, Any]]:
    from torch import nn

    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError("the head has no Linear layers")
    return [
        (m.weight.detach().cpu().numpy().astype("float32"), m.bias.detach().cpu().numpy().astype("float32"))
        for m in layers
    ]


def describe(dim: int = DIM, hidden: int = HIDDEN, **extra: Any) -> dict[str, Any]:
    # the input width names the featurizer (a head retrained from the n-gram-only model keeps its 16k input)
    featurizer = next((name for name, d in DIMS.items() if d == dim), FEATURIZER)
    return {
        "format": FORMAT,
        "featurizer": featurizer,
        "dim": dim,
        "hidden": hidden,
        "input": INPUT,
        "outputs": list(OUTPUTS),
        "labels": list(LABELS),
        "input_dtype": "float32",
        "input_shape": ["batch", dim],
        "output_shape": ["batch", len(LABELS)],
        **extra,
    }


def quantize(w: Any) -> tuple[Any, Any]:
    """Symmetric int8 per output row: (int8 weights, float32 scales) with w ≈ q * scale[:, None]."""
    import numpy as np

    scale = np.maximum(np.abs(w).max(axis=1), 1e-12).astype(np.float32) / 127.0
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def to_onnx_bytes(module: Any) -> bytes:
    """Serialise a head of Linear layers (ReLU between them) as an ONNX model with int8 weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layers = _linears(module)
    dim = layers[0][0].shape[1]
    nodes, inits = [], []
    x = INPUT
    for i, (w, b) in enumerate(layers):
        q, scale = quantize(w)
        inits += [
            numpy_helper.from_array(q, f"w{i}_int8"),
            numpy_helper.from_array(scale, f"w{i}_scale"),
            numpy_helper.from_array(np.zeros(len(scale), dtype=np.int8), f"w{i}_zero"),
            numpy_helper.from_array(b, f"b{i}"),
        ]
        nodes.append(
            helper.make_node("DequantizeLinear", [f"w{i}_int8", f"w{i}_scale", f"w{i}_zero"], [f"w{i}"], axis=0)
        )
        out = "logits" if i == len(layers) - 1 else f"h{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [out], transB=1))
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"]))
            out = f"r{i}"
        x = out
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes,
        "edgeprompt_firewall_head",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", len(LABELS)]) for name in OUTPUTS],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgeprompt")
    model.ir_version = 8  # readable by every onnxruntime >= 1.12
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def export(module: Any, folder: Path, **extra: Any) -> tuple[Path, Path]:
    """Write `classifier.onnx` and `classifier.json` into `folder`; returns both paths."""
    layers = _linears(module)
    hidden = layers[0][0].shape[0] if len(layers) > 1 else 0
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = folder / "classifier.onnx", folder / "classifier.json"
    onnx_path.write_bytes(to_onnx_bytes(module))
    json_path.write_text(
        json.dumps(describe(layers[0][0].shape[1], hidden, **extra), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return onnx_path, json_path


def shift_bias(module: Any, shift: float) -> None:
    """Move the attack-minus-benign margin by `shift` (the operating point, tuned out of fold)."""
    import torch

    last = [m for m in module.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.bias[1] += shift / 2
        last.bias[0] -= shift / 2


def union(kept: Any, added: Any) -> Any:
    """One head that flags what either of two linear heads flags, each at the bias it already carries: its
    attack margin is max(m_kept, m_added), written as a ReLU layer so that the exported graph keeps the
    Gemm → Relu → Gemm → Softmax form every loader reads (hidden = 5, no run-time code of its own).

    Hidden units: a, −a, b, −b of the kept head's attack/benign logits (its own rows, so its margin
    a − b = relu(a) − relu(−a) − relu(b) + relu(−b) is exact after int8 quantisation), and
    m_added − m_kept; the margin is then m_kept + relu(m_added − m_kept) = max(m_kept, m_added)."""
    import numpy as np
    import torch

    kept_layers, added_layers = _linears(kept), _linears(added)
    if len(kept_layers) != 1 or len(added_layers) != 1 or kept_layers[0][0].shape != added_layers[0][0].shape:
        raise ValueError("union() takes two linear heads of the same input width")
    (wk, bk), (wa, ba) = kept_layers[0], added_layers[0]
    a, b = LABELS.index("attack"), LABELS.index("benign")
    w1 = torch.from_numpy(
        np.stack([wk[a], -wk[a], wk[b], -wk[b], (wa[a] - wa[b]) - (wk[a] - wk[b])]).astype(np.float32)
    )
    b1 = torch.tensor([bk[a], -bk[a], bk[b], -bk[b], (ba[a] - ba[b]) - (bk[a] - bk[b])], dtype=torch.float32)
    margin = torch.tensor([1.0, -1.0, -1.0, 1.0, 1.0])
    module = build(wk.shape[1], 5)
    with torch.no_grad():  # two softmax columns ±margin/2: P(attack) = sigmoid(max(m_kept, m_added))
        module[0].weight.copy_(w1)
        module[0].bias.copy_(b1)
        module[2].weight[a] = margin / 2
        module[2].weight[b] = -margin / 2
        module[2].bias.zero_()
    return module.eval()


def state_from_onnx(path: Path) -> dict[str, Any]:
    """The torch state dict (`build`'s Sequential) of an exported head, int8 or float weights alike."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper

    arrays = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    layers = sorted(int(k[1:]) for k in arrays if k.startswith("b") and k[1:].isdigit())
    state = {}
    for i in layers:
        if f"w{i}_int8" in arrays:
            w = arrays[f"w{i}_int8"].astype(np.float32) * arrays[f"w{i}_scale"][:, None]
        else:
            w = arrays[f"w{i}"]
        # weights are [out, in] as torch.nn.Linear keeps them; Linear i sits at index 2*i (a ReLU between)
        state[f"{2 * i}.weight"] = torch.from_numpy(np.array(w, dtype=np.float32, copy=True))  # a writable copy
        state[f"{2 * i}.bias"] = torch.from_numpy(arrays[f"b{i}"].astype(np.float32).copy())
    return state
