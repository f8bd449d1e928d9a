"""The ClientApp a laptop's SuperNode runs: DP-train the received model on local examples, send the update.

Per round: open the data home named in the node config (`data-home`), read its labelled examples,
featurize them locally, check the privacy ledger (refuse if this round would cross the user's ε
budget), train with Opacus DP-SGD, record the release in the ledger, and reply with the model's
arrays and scalar metrics. Text, features and labels stay on the laptop. For `task = "lm-lora"` the
model is the laptop's language model with LoRA adapters (edgefed.lm_task): the examples are the answers
its user thumbed up or edited, and the reply holds the adapter's arrays only.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

from flwr.app import Context, Error, Message
from flwr.clientapp import ClientApp

from edgefed import lm_task, task, wire

app = ClientApp(mods=[wire.audit_outgoing])

# Error codes in replies that carry no update (the coordinator logs the reason).
REFUSED_BUDGET = 4001
REFUSED_DATA = 4002
BAD_INSTRUCTION = 4003  # another task, model size or version than this laptop's edgeprompt has


@contextlib.contextmanager
def _runtime(context: Context) -> Iterator[Any]:
    from edgeprompt.app import Runtime

    rt = Runtime.open(wire.data_home(context))
    try:
        yield rt
    finally:
        rt.close()


def _settings(rt: Any) -> tuple[float, float]:
    fed = rt.settings.section("federation")
    return float(fed["epsilon_budget"]), float(fed["delta"])


def _seed(context: Context, cfg: dict[str, Any], server_round: int) -> int:
    return int(cfg["seed"]) * 1_000_003 + server_round * 101 + zlib.crc32(str(context.node_id).encode())


def _train(msg: Message, context: Context) -> Message:
    from edgeprompt.errors import FederationError, PrivacyBudgetError
    from edgeprompt.federation.heads import head_spec
    from edgeprompt.federation.ledger import PrivacyLedger

    task.set_threads()
    probe_cfg = task.run_config(context.run_config)
    with _runtime(context) as rt:
        # the config travels with the message; the model template needs the task and size first
        cfg = task.run_config({**probe_cfg, **_config_of(msg)})
        spec = head_spec(str(cfg["task"]))
        model = task.build_model(spec, int(cfg["hidden"]))
        state, sent_cfg = wire.unpack(msg, model.state_dict())
        cfg = task.run_config({**probe_cfg, **sent_cfg})
        task.load_state(model, state)
        server_round = int(cfg.get("server-round", 0))
        budget, delta = _settings(rt)
        data = task.load_local(rt, spec, float(cfg["test-fraction"]))
        if data.n_train < task.MIN_TRAIN_EXAMPLES:
            raise FederationError(
                f"only {data.n_train} labelled {spec.task} examples here; need {task.MIN_TRAIN_EXAMPLES}"
            )
        ledger = PrivacyLedger(rt.db)
        epochs, sigma = int(cfg["local-epochs"]), float(cfg["noise-multiplier"])
        planned = task.plan(data.n_train, int(cfg["batch-size"]), epochs, sigma)
        try:
            ledger.check(spec.task, planned, delta, budget)
        except PrivacyBudgetError as e:
            return Message(Error(REFUSED_BUDGET, str(e)), reply_to=msg)
        g_loss, g_acc = task.evaluate(model, data.x_test, data.y_test)
        stats = task.train_dp(
            model,
            data.x_train,
            data.y_train,
            epochs=epochs,
            batch_size=int(cfg["batch-size"]),
            lr=float(cfg["learning-rate"]),
            sigma=sigma,
            max_grad_norm=float(cfg["max-grad-norm"]),
            mu=float(cfg.get("proximal-mu", 0.0)),
            seed=_seed(context, cfg, server_round),
        )
        assert stats.mechanism is not None
        entry = ledger.record(spec.task, str(context.run_id), server_round, stats.mechanism, delta, data.n_train)
        loss, acc = task.evaluate(model, data.x_test, data.y_test)
        metrics = {
            "train-loss": stats.loss,
            "loss": loss,
            "accuracy": acc,
            "global-loss": g_loss,
            "global-accuracy": g_acc,
            "epsilon": entry.epsilon_total,
            "epsilon-round": entry.epsilon_round,
            "epsilon-budget": budget,
            "num-test": len(data.y_test),
        }
        ledger.log_event("trained", spec.task, str(context.run_id), server_round, metrics)
    return wire.reply(msg, model.state_dict(), metrics, data.n_train)


def _config_of(msg: Message) -> dict[str, Any]:
    records = msg.content.config_records
    for key in ("config", "fitins.config"):
        if key in records:
            return dict(records[key])
    return {}


def _refusal(msg: Message, e: Exception) -> Message:
    """An error reply with a one-line reason (no traceback: it would name local paths)."""
    from edgeprompt.errors import FederationError

    return Message(Error(REFUSED_DATA if isinstance(e, FederationError) else BAD_INSTRUCTION, str(e)), reply_to=msg)


def _round_config(msg: Message, context: Context) -> dict[str, Any]:
    """The run config overlaid with the config the coordinator sent with this round."""
    return task.run_config({**dict(context.run_config), **_config_of(msg)})


@app.train(mods=[wire.secagg_when_asked])
def train(msg: Message, context: Context) -> Message:
    from edgeprompt.errors import EdgepromptError

    try:
        cfg = _round_config(msg, context)
        if cfg["task"] == lm_task.TASK:
            return _train_lm(msg, context, cfg)
        return _train(msg, context)
    except (EdgepromptError, ValueError) as e:
        return _refusal(msg, e)


def _lm_twin(rt: Any, msg: Message, cfg: dict[str, Any]) -> tuple[Any, Any]:
    """(the laptop's twin with the received adapter in, its HF folder)."""
    from edgeprompt.federation import lora

    hf = lm_task.model_folder(rt, str(cfg["lm-model"]))
    lm_task.check_base(hf, cfg)
    model = lora.twin(hf, lora.LoraSpec.from_config(cfg))
    state, _ = wire.unpack(msg, lora.adapter_state(model))
    lora.load_adapter_state(model, state)
    return model, hf


def _train_lm(msg: Message, context: Context, cfg: dict[str, Any]) -> Message:
    from edgeprompt.errors import FederationError, PrivacyBudgetError
    from edgeprompt.federation import lora
    from edgeprompt.federation.ledger import PrivacyLedger

    task.set_threads()
    with _runtime(context) as rt:
        model, hf = _lm_twin(rt, msg, cfg)
        key = lm_task.ledger_key(str(cfg["lm-model"]))
        server_round = int(cfg.get("server-round", 0))
        budget, delta = _settings(rt)
        data = lm_task.load_local(rt, hf, cfg)
        if data.n_train < task.MIN_TRAIN_EXAMPLES:
            raise FederationError(
                f"only {data.n_train} thumbed-up or edited answers here to learn from; need {task.MIN_TRAIN_EXAMPLES}"
            )
        ledger = PrivacyLedger(rt.db)
        try:
            ledger.check(key, lm_task.plan(data.n_train, cfg), delta, budget)
        except PrivacyBudgetError as e:
            return Message(Error(REFUSED_BUDGET, str(e)), reply_to=msg)
        g_loss = lora.mean_nll(model, data.ids_test, data.labels_test)
        stats = lm_task.train_with(model, data, cfg, _seed(context, cfg, server_round))
        assert stats.mechanism is not None
        entry = ledger.record(key, str(context.run_id), server_round, stats.mechanism, delta, data.n_train)
        loss = lora.mean_nll(model, data.ids_test, data.labels_test)
        metrics = {
            "train-loss": stats.loss,
            "loss": loss,
            "global-loss": g_loss,
            "epsilon": entry.epsilon_total,
            "epsilon-round": entry.epsilon_round,
            "epsilon-budget": budget,
            "num-test": len(data.ids_test),
            "num-thumbs": data.counts["thumbs"],
            "num-edits": data.counts["edit"],
        }
        ledger.log_event("trained", key, str(context.run_id), server_round, metrics)
    return wire.reply(msg, lora.adapter_state(model), metrics, data.n_train)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Federated evaluation: the global model on this laptop's held-out split (scalars back)."""
    from edgeprompt.errors import EdgepromptError

    try:
        cfg = _round_config(msg, context)
        if cfg["task"] == lm_task.TASK:
            return _evaluate_lm(msg, context, cfg)
        return _evaluate(msg, context)
    except (EdgepromptError, ValueError) as e:
        return _refusal(msg, e)


def _evaluate_lm(msg: Message, context: Context, cfg: dict[str, Any]) -> Message:
    """The global adapter's mean answer NLL on this laptop's held-out approved answers."""
    from edgeprompt.errors import FederationError
    from edgeprompt.federation import lora
    from edgeprompt.federation.ledger import PrivacyLedger

    task.set_threads()
    with _runtime(context) as rt:
        model, hf = _lm_twin(rt, msg, cfg)
        data = lm_task.load_local(rt, hf, cfg)
        if not len(data.ids_test):
            raise FederationError("no held-out approved answers here to evaluate on")
        loss = lora.mean_nll(model, data.ids_test, data.labels_test)
        PrivacyLedger(rt.db).log_event(
            "evaluated",
            lm_task.ledger_key(str(cfg["lm-model"])),
            str(context.run_id),
            int(cfg.get("server-round", 0)),
            {"loss": loss},
        )
    return wire.metrics_reply(msg, {"loss": loss, "num-examples": len(data.ids_test)})


def _evaluate(msg: Message, context: Context) -> Message:
    from edgeprompt.errors import FederationError
    from edgeprompt.federation.heads import head_spec
    from edgeprompt.federation.ledger import PrivacyLedger

    task.set_threads()
    cfg = _round_config(msg, context)
    with _runtime(context) as rt:
        spec = head_spec(str(cfg["task"]))
        model = task.build_model(spec, int(cfg["hidden"]))
        state, _ = wire.unpack(msg, model.state_dict())
        task.load_state(model, state)
        data = task.load_local(rt, spec, float(cfg["test-fraction"]))
        if not len(data.y_test):
            raise FederationError(f"no held-out {spec.task} examples here to evaluate on")
        loss, acc = task.evaluate(model, data.x_test, data.y_test)
        metrics = {"loss": loss, "accuracy": acc, "num-examples": len(data.y_test)}
        PrivacyLedger(rt.db).log_event(
            "evaluated",
            spec.task,
            str(context.run_id),
            int(cfg.get("server-round", 0)),
            {"loss": loss, "accuracy": acc},
        )
    return wire.metrics_reply(msg, metrics)
