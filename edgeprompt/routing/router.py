"""Routing: send each request to the right installed submodel.

A request gets a task tag — `code`, `documents`, `math`, `legal`, `general`, or a custom tag from a
model card — from, in order: an explicit `@tag` prefix; custom tags named in the request or close to
their models' descriptions; and for the built-in tags a MiniLM embedding + trained head (ONNX)
combined with keyword rules. A tag "fits" when its head probability plus a rule boost reaches the
tuned threshold; among fitting tags the precedence code > documents > math > legal > general
decides. The policy then picks the model (`routing_policy.choose`); without a suitable installed
model the default model answers. Seam: `Router.decide(text) -> RouteDecision`,
`Router.route(request) -> ModelCard`; the composition root (edgeprompt.app) builds one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeprompt.routing.policy import PowerProbe, choose, estimate_tokens, is_installed
from edgeprompt.routing.rules import TAGS, by_precedence, custom_hits, keyword_hits, split_explicit

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.catalog.cards import Catalog, ModelCard
    from edgeprompt.routing.head import RouterHead

__all__ = ["TAGS", "RouteDecision", "Router", "router_text"]

# Defaults when classifier.json carries no tuned values (scripts/train_router writes tuned ones).
FIT_THRESHOLD = 0.5
CARDS_RECHECK_S = 1.0  # user model cards are looked at again at most this often
RULE_BOOST = 0.35
USER_CHOICE = "model chosen by the user (-m)"  # the reason of a decision -m made; answered_by_documents keeps it


def router_text(text: str, max_chars: int = 320) -> str:
    """What the classifier reads: short requests whole; long ones as their start and end, where the
    instruction usually is (a pasted document sits in the middle), which bounds the embedding cost."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    head = (max_chars * 3) // 4
    return text[:head] + " … " + text[-(max_chars - head) :]


def pick_tag(
    scores: Mapping[str, float],
    fired: set[str],
    fit: float = FIT_THRESHOLD,
    boost: float = RULE_BOOST,
    unsure: float = 0.0,
) -> tuple[str, list[str], dict[str, float]]:
    """(winner, fitting tags, combined scores): a built-in tag fits when its head probability plus
    `boost` (if one of its rules fired) reaches `fit`; the first fitting tag in precedence wins, and
    when none fits the best combined score does. A specialist winning with a combined score below
    `unsure` is a guess: `general` answers instead (a wrong specialist is worse than the generalist)."""
    combined = {t: scores.get(t, 0.0) + (boost if t in fired else 0.0) for t in TAGS}
    fits = [t for t in TAGS if combined[t] >= fit]
    win = by_precedence(fits) or max(TAGS, key=lambda t: combined[t])
    if win != "general" and combined[win] < unsure:
        win = "general"
    return win, fits, combined


@dataclass(frozen=True)
class RouteDecision:
    route: str  # the task tag
    model: str  # the model id that answers
    scores: dict[str, float]  # head probabilities per built-in tag, similarity per custom tag
    rules: tuple[str, ...]  # rules that fired, e.g. "explicit:@code", "keyword:math:percent-of"
    reason: str
    text: str = field(default="", compare=False)  # the request without its @tag prefix
    power: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "model": self.model,
            "scores": dict(self.scores),
            "rules": list(self.rules),
            "reason": self.reason,
        }

    def trace_attributes(self) -> dict[str, Any]:
        return {
            "edgeprompt.route.tag": self.route,
            "edgeprompt.route.model": self.model,
            "edgeprompt.route.reason": self.reason,
            "edgeprompt.route.rules": list(self.rules),
        }


@dataclass(frozen=True)
class _Tagged:
    tag: str
    scores: dict[str, float]
    rules: tuple[str, ...]
    reason: str
    text: str


class Router:
    def __init__(
        self,
        catalog: Catalog,
        head: Callable[[], RouterHead],
        embed: Callable[[list[str]], np.ndarray],
        *,
        settings: Mapping[str, Any],
        default_model: Callable[[], str],
        reserve_tokens: int = 256,
        installed: Callable[[ModelCard], bool] = is_installed,
    ) -> None:
        self.catalog = catalog
        self._head_factory = head
        self._head: RouterHead | None = None
        self.embed = embed
        self.settings = settings
        self.default_model = default_model
        self.reserve_tokens = reserve_tokens
        self.installed = installed
        self.power = PowerProbe(str(settings.get("power", "auto")))
        self._lock = threading.Lock()
        self._custom: tuple[tuple[str, ...], np.ndarray] | None = None
        self._custom_key: tuple[tuple[str, str], ...] = ()
        self._cards: tuple[tuple[Any, ...], list[ModelCard]] | None = None
        self._cards_seen = 0.0
        self._default: str | None = None

    @property
    def head(self) -> RouterHead:
        with self._lock:
            if self._head is None:
                self._head = self._head_factory()
            return self._head

    # -- tags ----------------------------------------------------------------------------------------
    def cards(self) -> list[ModelCard]:
        """The catalog's cards, re-read only when a user card file changed: parsing every card on every
        decision would cost more than the routing itself."""
        now = time.monotonic()
        with self._lock:  # even the stat calls cost 0.4 ms a decision: look at most once a second
            if self._cards is not None and now - self._cards_seen < CARDS_RECHECK_S:
                return self._cards[1]
        folder = self.catalog.user_dir
        files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
        # the folder's own mtime changes when a model folder (e.g. the demo's) appears in it
        key = (
            folder.stat().st_mtime_ns if folder.is_dir() else 0,
            *((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files),
        )
        with self._lock:
            if self._cards is None or self._cards[0] != key:
                self._cards = (key, self.catalog.cards())
                self._default = None
            self._cards_seen = now
            return self._cards[1]

    def default_id(self) -> str:
        """The default model, remembered while the cards stay the same (it is worked out from them)."""
        self.cards()
        if self._default is None:
            self._default = self.default_model()
        return self._default

    def custom_tags(self) -> list[str]:
        return sorted({t for c in self.cards() for t in c.tags if t not in TAGS})

    def known_tags(self) -> set[str]:
        return set(TAGS) | set(self.custom_tags())

    def strip(self, text: str) -> tuple[str | None, str]:
        """(`tag`, rest) when the request starts with a known `@tag`; an unknown `@name` is left alone."""
        tag, rest = split_explicit(text)
        if tag is None or tag not in self.known_tags():
            return None, text
        return tag, rest.strip() or text.strip()

    def _custom_vectors(self, tags: list[str]) -> np.ndarray:
        """One embedding per custom tag: its name and its models' descriptions (cached per catalog)."""
        docs = {
            t: " ".join(
                [t.replace("-", " ").replace("_", " ")]
                + [c.description for c in self.cards() if t in c.tags and c.description]
            )
            for t in tags
        }
        key = tuple(sorted(docs.items()))
        if self._custom is None or self._custom_key != key:
            self._custom = (tuple(tags), self.embed([docs[t] for t in tags]))
            self._custom_key = key
        return self._custom[1]

    def classify(self, text: str, embedding: np.ndarray | None = None) -> _Tagged:
        tag, rest = self.strip(text)
        if embedding is None:
            embedding = self.embed([router_text(rest, int(self.settings.get("max_chars", 320)))])[0]
        probs = self.head.probabilities(embedding.reshape(1, -1))[0]
        scores = {label: round(float(p), 4) for label, p in zip(self.head.labels, probs, strict=True)}
        custom = self.custom_tags()
        hits = keyword_hits(rest) + custom_hits(rest, custom)
        if custom:
            sims = self._custom_vectors(custom) @ embedding.reshape(-1)
            scores.update({t: round(float(s), 4) for t, s in zip(custom, sims, strict=True)})
        rules = tuple(h.name for h in hits)
        if tag is not None:
            return _Tagged(tag, scores, (f"explicit:@{tag}", *rules), f"explicit @{tag}", rest)
        return self._resolve(scores, hits, custom, rules, rest)

    def _resolve(
        self, scores: dict[str, float], hits: list[Any], custom: list[str], rules: tuple[str, ...], rest: str
    ) -> _Tagged:
        meta = self.head.meta.extra
        fit, boost = float(meta.get("fit_threshold", FIT_THRESHOLD)), float(meta.get("rule_boost", RULE_BOOST))
        unsure = float(meta.get("unsure_below", 0.0))
        near = float(self.settings.get("custom_threshold", 0.45))
        named = [h.tag for h in hits if h.tag in custom]
        close = [t for t in custom if scores.get(t, 0.0) >= near]
        if named or close:
            best = max(named or close, key=lambda t: scores.get(t, 0.0))
            why = "named in the request" if best in named else f"similarity {scores[best]:.2f} to its models"
            return _Tagged(best, scores, rules, f"custom tag '{best}' ({why})", rest)
        fired = {h.tag for h in hits}
        guess, _, _ = pick_tag(scores, fired, fit, boost)
        win, fits, combined = pick_tag(scores, fired, fit, boost, unsure)
        support = f", rules: {', '.join(h.name for h in hits if h.tag == win)}" if win in fired else ""
        if win != guess:
            reason = f"unsure ('{guess}' only {combined[guess]:.2f} < {unsure:.2f}): 'general' answers"
        elif len(fits) > 1:
            reason = f"fits {', '.join(fits)}; '{win}' takes precedence (head {scores[win]:.2f}{support})"
        else:
            reason = f"'{win}' (head {scores[win]:.2f}{support})"
        return _Tagged(win, scores, rules, reason, rest)

    # -- decisions -----------------------------------------------------------------------------------
    def decide(self, text: str, embedding: np.ndarray | None = None, need_tokens: int | None = None) -> RouteDecision:
        tagged = self.classify(text, embedding)
        return self._with_model(tagged, need_tokens)

    def _with_model(self, tagged: _Tagged, need_tokens: int | None) -> RouteDecision:
        need = need_tokens if need_tokens is not None else estimate_tokens(tagged.text) + self.reserve_tokens
        state = self.power.state()
        saving = state.saving(float(self.settings.get("low_charge_percent", 30)))
        default = self.default_id()
        choice = choose(
            tagged.tag, self.cards(), default_id=default, need_tokens=need, saving=saving, installed=self.installed
        )
        if choice.card is not None:
            model, why = choice.card.id, choice.reason
        else:
            model, why = default, f"{choice.reason}; using the default model"
        return RouteDecision(
            tagged.tag, model, tagged.scores, tagged.rules, f"{tagged.reason}; {why}", tagged.text, state.describe()
        )

    def answered_by_documents(self, decision: RouteDecision, card: ModelCard) -> RouteDecision | None:
        """A question routed to a toy model (tag `demo`) that the user's documents answer goes to the
        `documents` model instead, whatever its task tag (a `legal` question about the lease too): its quotes
        with citations answer, where the toy only writes words. None when the user chose the model or the
        tag, or no other documents model is installed."""
        chosen = decision.reason == USER_CHOICE or any(r.startswith("explicit:") for r in decision.rules)
        if chosen or "demo" not in card.tags:
            return None
        moved = self._with_model(
            _Tagged(
                "documents",
                decision.scores,
                (*decision.rules, "evidence:documents"),
                f"'{decision.route}' for a toy model, but your documents answer it",
                decision.text,
            ),
            None,
        )
        return moved if moved.model != card.id else None

    def routable(self) -> list[ModelCard]:
        """Installed models the router could choose among (the test fake only when it is the default)."""
        default = self.default_id()
        return [c for c in self.cards() if (c.id != "echo" or c.id == default) and self.installed(c)]

    def for_request(
        self, question: str, model: str | None = None, embedding: np.ndarray | None = None
    ) -> RouteDecision:
        """The pipeline's route stage: honour `-m`; skip the classifier when there is nothing to choose."""
        tag, rest = self.strip(question)
        if model:
            return RouteDecision(tag or "", model, {}, (f"explicit:@{tag}",) if tag else (), USER_CHOICE, rest)
        if not self.settings.get("enabled", True):
            return RouteDecision(tag or "", self.default_id(), {}, (), "routing is off ([routing] enabled)", rest)
        if len(self.routable()) < 2:
            hits = keyword_hits(rest)
            found = tag or by_precedence(h.tag for h in hits) or "general"
            rules = ((f"explicit:@{tag}",) if tag else ()) + tuple(h.name for h in hits)
            return RouteDecision(
                found, self.default_id(), {}, rules, "one installed model: the classifier was skipped", rest
            )
        return self.decide(question, embedding)

    def route(self, request: Any) -> ModelCard:
        """The architecture's seam: a request (text or anything with `.question`) -> the model card."""
        text = request if isinstance(request, str) else str(request.question)
        return self.catalog.get(self.decide(text).model)
