"""The language model's PyTorch twin for federated LoRA: the laptop's Hugging Face folder, frozen, with peft
LoRA adapters on the attention projections; only the adapters train, and only they travel.

Used by the ClientApp (DP training), the coordinator (round 0 and the published pack) and `federation
import` (converting the adapter for MLX and ONNX). The examples are tokenized with the model's own chat
template (the one both backends prompt with), so the adapter learns on exactly the ids it will see.
torch, transformers and peft are imported inside functions.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeprompt.errors import ModelLoadError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from edgeprompt.federation.lmdata import ChatExample

TASK = "lm-lora"  # the federated task's name in the run config
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
IGNORE = -100  # label of tokens the loss skips (prompt, padding): transformers' and torch's convention


def ledger_key(model_id: str) -> str:
    """The privacy ledger's model key (training, evaluation and `federation import` alike): ε is spent per
    base model's adapter, apart from the classifier heads."""
    return f"{TASK}:{model_id}"


@dataclass(frozen=True)
class LoraSpec:
    """What the adapter is: rank r, alpha (the update is scaled by alpha / r) and the target projections."""

    rank: int = 4
    alpha: float = 8.0
    targets: tuple[str, ...] = TARGETS

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def peft_config(self) -> Any:
        from peft import LoraConfig

        # peft types lora_alpha as int, but only divides it by r: a fractional alpha is meant
        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,  # type: ignore[arg-type]
            target_modules=list(self.targets),
            lora_dropout=0.0,
            bias="none",
            task_type="CAUSAL_LM",
        )

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> LoraSpec:
        """From the run config (`lora-rank`, `lora-alpha`, `lora-targets` as "q_proj,k_proj,…")."""
        targets = {t.strip() for t in str(cfg["lora-targets"]).split(",") if t.strip()}
        return cls(int(cfg["lora-rank"]), float(cfg["lora-alpha"]), tuple(sorted(targets, key=_target_order)))

    @classmethod
    def from_adapter_config(cls, doc: dict[str, Any]) -> LoraSpec:
        """From a peft adapter_config.json; refuses what the MLX and ONNX conversions do not carry over."""
        if doc.get("peft_type", "LORA") != "LORA" or doc.get("use_dora") or doc.get("use_rslora"):
            raise ModelLoadError("only plain LoRA adapters (no DoRA, no rsLoRA) can be installed")
        if (
            doc.get("bias", "none") != "none"
            or doc.get("layers_to_transform")
            or doc.get("rank_pattern")
            or doc.get("alpha_pattern")
        ):
            raise ModelLoadError("the adapter uses per-layer ranks, layer subsets or biases, which are not supported")
        targets = doc.get("target_modules") or []
        return cls(int(doc["r"]), float(doc["lora_alpha"]), tuple(sorted(targets, key=_target_order)))


def _target_order(name: str) -> tuple[int, str]:
    return (TARGETS.index(name) if name in TARGETS else len(TARGETS), name)


def fingerprint(hf: Path) -> str:
    """Which base weights an adapter belongs to: SHA-256 over config.json and the safetensors files.
    An adapter is a delta on one exact set of weights; on any other it computes nonsense."""
    files = [hf / "config.json", *sorted(hf.glob("*.safetensors"))]
    if not files[0].exists() or len(files) < 2:
        raise ModelLoadError(f"{hf} is not a Hugging Face model folder (config.json + *.safetensors)")
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:24]


def load_base(hf: Path) -> Any:
    """The causal LM in float32 on the CPU, frozen and in eval mode."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(hf), dtype="float32")
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{hf}: {str(e).splitlines()[0][:200]}") from e
    model.requires_grad_(False)
    return model.eval()


def twin(hf: Path, spec: LoraSpec, seed: int = 0) -> Any:
    """Base model + fresh LoRA adapters (peft's init: A random, B zero, so the twin starts as the base)."""
    import torch
    from peft import get_peft_model

    base = load_base(hf)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft calls a transformers API deprecated for v6
        return get_peft_model(base, spec.peft_config())


def adapter_state(model: Any) -> OrderedDict[str, torch.Tensor]:
    """The adapter's weights under peft's saved names (`…q_proj.lora_A.weight`): all that is ever sent."""
    from peft import get_peft_model_state_dict

    return OrderedDict((k, v.detach().clone().contiguous()) for k, v in get_peft_model_state_dict(model).items())


def adapter_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in adapter_state(model).items()}


def load_adapter_state(model: Any, state: dict[str, Any]) -> None:
    """Put received adapter weights in, refusing anything not shaped like this twin's adapter."""
    from peft import set_peft_model_state_dict

    want = adapter_shapes(model)
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        raise ValueError(
            f"received adapter does not match this model's LoRA layout: {len(got)} arrays "
            f"{_first_difference(got, want)}"
        )
    result = set_peft_model_state_dict(model, dict(state))
    if unexpected := getattr(result, "unexpected_keys", None):
        raise ValueError(f"unexpected adapter keys {unexpected[:3]}")


def _first_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for k in sorted(set(got) | set(want)):
        if got.get(k) != want.get(k):
            return f"(first difference: {k}: {got.get(k)} vs {want.get(k)})"
    return ""


# -- examples as token ids ----------------------------------------------------------------------------------
def encode(hf: Path, examples: Sequence[ChatExample], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, labels) [n, T], right-padded: the prompt as the backends render it (the model's chat template
    with the generation prompt), then the answer and the template's end of turn. Labels are the answer
    tokens only. Sequences are cut at `max_tokens`; an example with no answer token left is dropped."""
    import numpy as np

    from edgeprompt.backends.base import Message
    from edgeprompt.backends.chat import ChatFormat

    chat = ChatFormat(hf)
    pad = chat.tokenizer.token_to_id(chat.special.get("pad_token") or "") or 0
    rows: list[tuple[list[int], int]] = []
    for ex in examples:
        prompt = chat.render([Message("user", ex.prompt)])
        full = _render_reply(chat, ex.prompt, ex.answer)
        if not full.startswith(prompt):  # a template that renders history differently from the prompt
            full = prompt + ex.answer + (chat.special.get("eos_token") or "")
        p_ids = chat.tokenizer.encode(prompt, add_special_tokens=False).ids
        a_ids = chat.tokenizer.encode(full[len(prompt) :], add_special_tokens=False).ids
        ids = (p_ids + a_ids)[:max_tokens]
        if len(ids) > len(p_ids):
            rows.append((ids, len(p_ids)))
    width = max((len(ids) for ids, _ in rows), default=1)
    x = np.full((len(rows), width), pad, dtype=np.int64)
    y = np.full((len(rows), width), IGNORE, dtype=np.int64)
    for i, (ids, n_prompt) in enumerate(rows):
        x[i, : len(ids)] = ids
        y[i, n_prompt : len(ids)] = ids[n_prompt:]
    return x, y


def _render_reply(chat: Any, question: str, answer: str) -> str:
    """The whole exchange in the chat template, as the model saw its own past answers."""
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return str(chat.template.render(messages=messages, add_generation_prompt=False, **chat.special))


def example_nll(model: Any, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per example: mean negative log-likelihood of its answer tokens [B]. Each example's loss depends on
    that example alone, which is what per-example clipping in DP-SGD assumes."""
    import torch

    logits = model(input_ids=ids).logits[:, :-1]
    target = labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE, reduction="none"
    ).view(target.shape)
    mask = (target != IGNORE).to(nll.dtype)
    return (nll * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def mean_nll(model: Any, ids: np.ndarray, labels: np.ndarray, batch: int = 16) -> float:
    """Mean over examples of the per-token answer NLL (nats; exp() is the perplexity); nan without examples."""
    import torch

    if not len(ids):
        return float("nan")
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(ids), batch):
            total += float(
                example_nll(model, torch.from_numpy(ids[i : i + batch]), torch.from_numpy(labels[i : i + batch])).sum()
            )
    return total / len(ids)
