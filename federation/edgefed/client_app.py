"""The ClientApp a laptop's SuperNode runs: DP-train the received head on local examples, send the update.

Per round: open the data home named in the node config (`data-home`), read its labelled examples,
featurize them locally, check the privacy ledger (refuse if this round would cross the user's ε
budget), train with Opacus DP-SGD, record the release in the ledger, and reply with the model's
arrays and scalar metrics. Text, features and labels stay on the laptop.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from typing import Any

from flwr.app import Context, Error, Message
from flwr.clientapp import ClientApp

from edgefed import task, wire

app = ClientApp(mods=[wire.audit_outgoing])

# Error codes in replies that carry no update (the coordinator logs the reason).
REFUSED_BUDGET = 4001
REFUSED_DATA = 4002
BAD_INSTRUCTION = 4003  # another task, model size or version than this laptop's edgeprompt has


@contextlib.contextmanager
def _runtime(context: Context) -> Iterator[Any]:
    from edgeprompt.runtime import Runtime

    home = context.node_config.get("data-home") or None  # None: $EDGEPROMPT_HOME or the user's data home
    rt = Runtime.open(str(home) if home else None)
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
            raise FederationError(f"only {data.n_train} labelled {spec.task} examples here; need "
                                  f"{task.MIN_TRAIN_EXAMPLES}")
        ledger = PrivacyLedger(rt.db)
        epochs, sigma = int(cfg["local-epochs"]), float(cfg["noise-multiplier"])
        planned = task.plan(data.n_train, int(cfg["batch-size"]), epochs, sigma)
        try:
            ledger.check(spec.task, planned, delta, budget)
        except PrivacyBudgetError as e:
            return Message(Error(REFUSED_BUDGET, str(e)), reply_to=msg)
        g_loss, g_acc = task.evaluate(model, data.x_test, data.y_test)
        stats = task.train_dp(model, data.x_train, data.y_train, epochs=epochs, batch_size=int(cfg["batch-size"]),
                              lr=float(cfg["learning-rate"]), sigma=sigma, max_grad_norm=float(cfg["max-grad-norm"]),
                              mu=float(cfg.get("proximal-mu", 0.0)), seed=_seed(context, cfg, server_round))
        assert stats.mechanism is not None
        entry = ledger.record(spec.task, str(context.run_id), server_round, stats.mechanism, delta, data.n_train)
        loss, acc = task.evaluate(model, data.x_test, data.y_test)
        metrics = {"train-loss": stats.loss, "loss": loss, "accuracy": acc, "global-loss": g_loss,
                   "global-accuracy": g_acc, "epsilon": entry.epsilon_total, "epsilon-round": entry.epsilon_round,
                   "epsilon-budget": budget, "num-test": len(data.y_test)}
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

    return Message(Error(REFUSED_DATA if isinstance(e, FederationError) else BAD_INSTRUCTION, str(e)),
                   reply_to=msg)


@app.train(mods=[wire.secagg_when_asked])
def train(msg: Message, context: Context) -> Message:
    from edgeprompt.errors import EdgepromptError

    try:
        return _train(msg, context)
    except (EdgepromptError, ValueError) as e:
        return _refusal(msg, e)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Federated evaluation: the global model on this laptop's held-out split (scalars back)."""
    from edgeprompt.errors import EdgepromptError

    try:
        return _evaluate(msg, context)
    except (EdgepromptError, ValueError) as e:
        return _refusal(msg, e)


def _evaluate(msg: Message, context: Context) -> Message:
    from edgeprompt.errors import FederationError
    from edgeprompt.federation.heads import head_spec
    from edgeprompt.federation.ledger import PrivacyLedger

    task.set_threads()
    cfg = task.run_config({**dict(context.run_config), **_config_of(msg)})
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
        PrivacyLedger(rt.db).log_event("evaluated", spec.task, str(context.run_id), int(cfg.get("server-round", 0)),
                                       {"loss": loss, "accuracy": acc})
    return wire.metrics_reply(msg, metrics)
