"""Per-request signals for the observatory, recorded by the pipeline's `observe.signals` stage.

Content capture is off by default, so the trace holds no question or answer text. Drift and topic
clustering still need something: this stage stores, keyed by trace id in `obs_signals`, the question's and
the answer's MiniLM embeddings (vectors, not text) and up to 8 keywords of the question (local only, never
exported unless `observe export --with-content`; `[observatory] keywords = false` turns them off, and topics
are then labelled "topic N"). It also records plain flags on the span — refusal and abstention phrasing in
the answer — and the request's energy. `[observatory] signals = off` turns the embeddings off (MiniLM ships
in the package, so `auto`, the default, embeds like `on`; the question's vector is the one the cache
already computed).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from edgeprompt.embed import Embedder
    from edgeprompt.observatory.energy import EnergyMeter
    from edgeprompt.store.db import Database

MAX_TERMS = 8
_TERM = re.compile(r"[a-z][a-z0-9+#]*(?:[.\-'][a-z0-9+#]+)*")
# English function words and question scaffolding; what is left says what the question is about.
STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
else even ever every few for from further get gets getting give go going got had hadn't has hasn't have
haven't having he her here hers herself him himself his how i i'd i'll i'm i've if in into is isn't it it's
its itself just know let let's like make me more most much must my myself need no nor not now of off on once
one only or other ought our ours ourselves out over own please really same say shall she should shouldn't
so some such tell than thank thanks that that's the their theirs them themselves then there there's these
they they're thing things this those through to too under until up use used using very want was wasn't way
we we're were weren't what what's when where which while who whom why will with without won't would
wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves explain best good better
""".split()
)
REFUSAL = re.compile(
    r"\b(i can(?:not|'t|’t) (?:help|assist|do|provide|answer|comply)|i(?: am|'m|’m) unable to|"
    r"i won(?:'|’)t (?:help|be able)|i will not|i(?: am|'m|’m) (?:sorry|afraid),? but|"
    r"as an ai(?: language model)?,? i)\b",
    re.I,
)
ABSTENTION = re.compile(
    r"\b(i (?:do not|don't|don’t) know|i (?:could not|couldn't|couldn’t|cannot|can't|can’t) find|"
    r"(?:is|was|are) not (?:mentioned|covered|stated) in the (?:documents?|sources?|context)|"
    r"no (?:relevant )?information (?:about|on|in|for))\b",
    re.I,
)
CITATION = re.compile(r"\[(\d{1,2})\]")


def keywords(text: str, limit: int = MAX_TERMS) -> list[str]:
    """Content words of a question, in order of first appearance (lower-case, no stopwords, ≥ 3 letters)."""
    out: list[str] = []
    for w in _TERM.findall(text.lower()):
        w = w.strip(".-'")
        if len(w) < 3 or w in STOPWORDS or w.isdigit() or w in out:
            continue
        out.append(w)
        if len(out) >= limit:
            break
    return out


def answer_flags(answer: str) -> dict[str, Any]:
    """Refusal / abstention phrasing in the first part of an answer (where models say it), and how many
    distinct numbered sources ("[2]") the answer cites."""
    head = answer[:400]
    return {
        "edgeprompt.answer.refusal": bool(REFUSAL.search(head)),
        "edgeprompt.answer.abstention": bool(ABSTENTION.search(head)),
        "edgeprompt.answer.citations": len(set(CITATION.findall(answer))),
    }


def embedder_for(observatory: Mapping[str, Any], embedder: Callable[[], Embedder]) -> Embedder | None:
    """The MiniLM embedder per `[observatory] signals`, or None when off. `auto` once waited until MiniLM had
    been exported into the data home; it ships in the package now, so `auto` embeds like `on`."""
    if str(observatory["signals"]).lower() == "off":
        return None
    return embedder()


def to_blob(vec: np.ndarray) -> bytes:
    import numpy as np

    return np.asarray(vec, dtype="<f4").tobytes()


def from_blob(blob: bytes | None) -> np.ndarray | None:
    import numpy as np

    return None if blob is None else np.frombuffer(blob, dtype="<f4")


def store(
    db: Database,
    trace_id: str,
    model: str,
    question_vec: np.ndarray | None,
    answer_vec: np.ndarray | None,
    terms: list[str],
) -> None:
    with db.transaction() as c:
        c.execute(
            "INSERT OR REPLACE INTO obs_signals(trace_id, embed_model, question_vec, answer_vec, terms, "
            "created_at) VALUES (?,?,?,?,?,?)",
            (
                trace_id,
                model,
                None if question_vec is None else to_blob(question_vec),
                None if answer_vec is None else to_blob(answer_vec),
                json.dumps(terms),
                time.time(),
            ),
        )


def record_signals(
    db: Database,
    embedder: Callable[[], Embedder | None],
    with_keywords: bool,
    trace_id: str,
    question: str,
    answer: str,
    meter: EnergyMeter | None = None,
) -> dict[str, Any]:
    """The pipeline hook: store the signals for one answered request; return the span's attributes.
    `embedder` gives the MiniLM embedder or None (see `embedder_for`); it is asked only here.

    The answer has already streamed to the user, so a failure here is recorded on the span, not raised."""
    attrs: dict[str, Any] = dict(answer_flags(answer))
    if meter is not None:
        attrs.update(meter.read().attributes())
    try:
        model = embedder()
        terms = keywords(question) if with_keywords else []
        attrs["edgeprompt.observe.embedded"] = model is not None
        if model is None and not terms:
            return attrs
        vecs = model.embed_batch([question, answer or " "]) if model is not None else None
        store(
            db,
            trace_id,
            model.model_hash if model is not None else "",
            None if vecs is None else vecs[0],
            None if vecs is None else vecs[1],
            terms,
        )
    except Exception as e:  # observing must never turn a delivered answer into an error
        attrs["edgeprompt.observe.error"] = f"{type(e).__name__}: {e}"[:200]
    return attrs


def energy_meter(watts_per_core: float) -> EnergyMeter:
    """Started at the top of a request; `record_signals` reads it."""
    from edgeprompt.observatory.energy import EnergyMeter

    return EnergyMeter(float(watts_per_core))
