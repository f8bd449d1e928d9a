"""Models, local data, DP training and evaluation for edgeprompt's federated classifier heads.

The data never leaves this module's caller: `load_local` reads the laptop's labelled examples from its
edgeprompt database and turns them into feature vectors with the same featurizer the firewall or router
uses at run time (edgeprompt.federation.heads). `train_dp` runs Opacus DP-SGD (per-sample clipping,
Gaussian noise, Poisson sampling); the mechanism it ran, (σ, q, steps), goes into the privacy ledger.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeprompt.federation.heads import HeadSpec
from edgeprompt.federation.ledger import Mechanism
from edgeprompt.store.examples import Example, ExampleStore

if TYPE_CHECKING:
    import numpy as np
    import torch

    from edgeprompt.app import Runtime
    from edgeprompt.firewall.features import Embed

# Mirrors [tool.flwr.app.config] in federation/pyproject.toml: the in-process simulation passes an
# empty run config, and unit tests call the apps without one.
DEFAULTS: dict[str, Any] = {
    "task": "firewall",
    "hidden": 0,
    "init": "shipped",
    "num-server-rounds": 3,
    "local-epochs": 2,
    "batch-size": 32,
    "learning-rate": 2.0,
    "noise-multiplier": 1.0,
    "max-grad-norm": 1.0,
    "test-fraction": 0.2,
    "strategy": "fedavg",
    "proximal-mu": 0.0,
    "fraction-train": 1.0,
    "fraction-evaluate": 0.0,
    "min-nodes": 2,
    "round-timeout": 600.0,
    "secagg": False,
    "secagg-num-shares": 1.0,
    "secagg-reconstruction-threshold": 1.0,
    "seed": 0,
    "out-dir": "",
    "sim-homes": "",
    "signing-key": "",
    "lm-model": "demo",
    "lm-base": "",
    "lora-rank": 4,
    "lora-alpha": 8.0,
    "lora-targets": "q_proj,k_proj,v_proj,o_proj",
    "lm-max-tokens": 128,
    "lm-local-epochs": 2,
    "lm-batch-size": 16,
    "lm-learning-rate": 0.01,
}

# What the coordinator sends with each round, so a ClientApp trains exactly as configured.
TRAIN_KEYS = (
    "task",
    "hidden",
    "local-epochs",
    "batch-size",
    "learning-rate",
    "noise-multiplier",
    "max-grad-norm",
    "test-fraction",
    "seed",
)
# The DP-SGD settings a run's summary reports (edgefed.lm_task.DP_KEYS for lm-lora).
DP_KEYS = ("noise-multiplier", "max-grad-norm", "batch-size", "local-epochs", "learning-rate")
MIN_TRAIN_EXAMPLES = 8


def run_config(raw: Any) -> dict[str, Any]:
    """Defaults overlaid with the run's config (a Context.run_config or a plain dict)."""
    return {**DEFAULTS, **dict(raw or {})}


def set_threads() -> None:
    """One torch thread: ClientApps share a laptop (and CI's 2 cores); oversubscription costs 10-100x."""
    import torch

    torch.set_num_threads(1)


# -- local data ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LocalData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.y_train)


def in_test_split(text: str, fraction: float) -> bool:
    """A stable split by the text's hash: the same sentence is held out on every laptop, every round."""
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")
    return (h % 10_000) < fraction * 10_000


def latest_labels(examples: list[Example], labels: tuple[str, ...]) -> list[tuple[str, int]]:
    """One (text, label index) per text: a user's correction (source 'feedback') beats a logged decision,
    a later row beats an earlier one; labels the head does not know are skipped."""
    best: dict[str, Example] = {}
    for ex in examples:
        old = best.get(ex.text)
        if old is None or (ex.source == "feedback", ex.id) >= (old.source == "feedback", old.id):
            best[ex.text] = ex
    index = {name: i for i, name in enumerate(labels)}
    return [(t, index[e.label]) for t, e in best.items() if e.label in index]


def split_rows(rows: list[tuple[str, int]], test_fraction: float) -> tuple[list[tuple[str, int]], ...]:
    train = [r for r in rows if not in_test_split(r[0], test_fraction)]
    test = [r for r in rows if in_test_split(r[0], test_fraction)]
    return train, test


def featurize_rows(embed: Embed, spec: HeadSpec, rows: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if not rows:
        return np.zeros((0, spec.input_dim), dtype=np.float32), np.zeros((0,), dtype=np.int64)
    x = np.asarray(spec.featurize(embed, [t for t, _ in rows]), dtype=np.float32)
    return x, np.asarray([y for _, y in rows], dtype=np.int64)


def load_local(rt: Runtime, spec: HeadSpec, test_fraction: float) -> LocalData:
    rows = latest_labels(ExampleStore(rt.db).for_task(spec.task), spec.labels)
    train, test = split_rows(rows, test_fraction)

    def embed(texts: list[str]) -> np.ndarray:  # the embedder loads only if the head's featurizer asks
        return rt.embedder().embed_batch(texts)

    x_tr, y_tr = featurize_rows(embed, spec, train)
    x_te, y_te = featurize_rows(embed, spec, test)
    return LocalData(x_tr, y_tr, x_te, y_te)


# -- model ---------------------------------------------------------------------------------------------
def build_model(spec: HeadSpec, hidden: int, seed: int = 0) -> torch.nn.Module:
    """The task owner's head; `hidden` < 0 means the owner's default size."""
    import torch

    torch.manual_seed(seed)
    return spec.build(spec.default_hidden if hidden < 0 else hidden, seed)


def initial_model(spec: HeadSpec, cfg: dict[str, Any]) -> torch.nn.Module:
    """Round 0's global model: the head edgeprompt ships (`init = "shipped"`), so federation improves the
    model laptops already use, or freshly initialised weights (`init = "random"`)."""
    model = build_model(spec, int(cfg["hidden"]), int(cfg["seed"]))
    if cfg["init"] == "shipped":
        hidden, state = spec.shipped()
        wanted = spec.default_hidden if int(cfg["hidden"]) < 0 else int(cfg["hidden"])
        if hidden != wanted:
            raise ValueError(
                f'the shipped {spec.task} head has hidden={hidden}; run with hidden={hidden} or init="random"'
            )
        load_state(model, state)
    elif cfg["init"] != "random":
        raise ValueError(f'init must be "shipped" or "random", not {cfg["init"]!r}')
    return model


def parameter_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_state(model: torch.nn.Module, state: dict[str, Any]) -> None:
    """Load received weights, refusing anything not shaped like this model (a wrong task or version)."""
    want = parameter_shapes(model)
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        raise ValueError(f"received parameters do not match the model: {got} != {want}")
    model.load_state_dict(state, strict=True)


# -- training --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainStats:
    loss: float
    mechanism: Mechanism | None  # (σ, q, steps) of the DP-SGD run; None without DP
    seconds: float
    epochs: int

    @property
    def seconds_per_epoch(self) -> float:
        return self.seconds / max(1, self.epochs)


def plan(n_examples: int, batch_size: int, epochs: int, sigma: float) -> Mechanism:
    """The mechanism Opacus will run: q = 1/batches per epoch (its Poisson rate), steps = epochs × batches."""
    batches = max(1, math.ceil(n_examples / max(1, batch_size)))
    return (float(sigma), 1.0 / batches, epochs * batches)


def loader(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    """Shuffled mini-batches of (x, y), the order fixed by `seed` (Opacus replaces it with Poisson sampling)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    gen = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size, shuffle=True, generator=gen
    )


def _proximal_pull(model: torch.nn.Module, anchor: list[torch.Tensor], step: float) -> None:
    """FedProx as post-processing: pull the weights toward the round's global model after each noisy step.
    Adding μ/2·‖w−w_g‖² to the loss would not reach Opacus's per-sample gradients; this update uses no
    data, so it keeps the DP guarantee and has the same gradient as the proximal term."""
    import torch

    with torch.no_grad():
        for p, g in zip(model.parameters(), anchor, strict=True):
            p.sub_(step * (p - g))


def _epochs(
    model: torch.nn.Module,
    step_model: Any,
    optimizer: Any,
    loader: Any,
    epochs: int,
    anchor: list[torch.Tensor] | None,
    prox_step: float,
) -> float:
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    total, count = 0.0, 0
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(step_model(xb), yb)
            loss.backward()
            optimizer.step()
            if anchor is not None:
                _proximal_pull(model, anchor, prox_step)
            if len(yb):  # Poisson sampling can draw an empty batch; Opacus still steps (noise only)
                total += float(loss.detach()) * len(yb)
                count += len(yb)
    return total / max(1, count)


def train_dp(
    model: torch.nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    sigma: float,
    max_grad_norm: float,
    mu: float = 0.0,
    seed: int = 0,
) -> TrainStats:
    """DP-SGD with Opacus: per-sample clipping to `max_grad_norm`, noise σ·C, Poisson sampling, RDP accountant."""
    import torch

    torch.manual_seed(seed)
    model.train()  # make_private refuses a module in eval mode
    anchor = [p.detach().clone() for p in model.parameters()] if mu > 0 else None
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return run_private(
        model,
        optimizer,
        loader(x, y, batch_size, seed),
        sigma,
        max_grad_norm,
        epochs,
        lambda dp_model, dp_opt, dp_loader: _epochs(model, dp_model, dp_opt, dp_loader, epochs, anchor, lr * mu),
    )


def run_private(
    model: torch.nn.Module,
    optimizer: Any,
    data: Any,
    sigma: float,
    max_grad_norm: float,
    epochs: int,
    loop: Callable[[Any, Any, Any], float],
) -> TrainStats:
    """Opacus around one training run: `loop(dp_model, dp_optimizer, dp_loader) -> mean loss` runs with
    per-sample clipping, noise σ·C and Poisson sampling; returns the mechanism the RDP accountant saw."""
    from opacus import PrivacyEngine

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "secure RNG off" and full-backward-hook notices, every process
        engine = PrivacyEngine(accountant="rdp")
        dp_model, dp_opt, dp_loader = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=data,
            noise_multiplier=sigma,
            max_grad_norm=max_grad_norm,
            poisson_sampling=True,
        )
        t0 = time.perf_counter()
        loss = loop(dp_model, dp_opt, dp_loader)
        seconds = time.perf_counter() - t0
    dp_model._close()  # drop Opacus's hooks; `model` keeps its own clean state_dict keys
    history = engine.accountant.history
    if len(history) != 1:
        raise RuntimeError(f"unexpected accountant history {history}")
    sigma_run, q, steps = history[0]
    return TrainStats(loss, (float(sigma_run), float(q), int(steps)), seconds, epochs)


def train_plain(
    model: torch.nn.Module, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, lr: float, seed: int = 0
) -> TrainStats:
    """The same SGD loop without Opacus: the baseline for the DP overhead figure (never sent anywhere)."""
    import torch

    torch.manual_seed(seed)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    loss = _epochs(model, model, optimizer, loader(x, y, batch_size, seed), epochs, None, 0.0)
    return TrainStats(loss, None, time.perf_counter() - t0, epochs)


def evaluate(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(cross-entropy loss, accuracy); (nan, nan) with no examples."""
    import torch

    if len(y) == 0:
        return float("nan"), float("nan")
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
        acc = (logits.argmax(1).numpy() == y).mean()
    return float(loss), float(acc)
