"""What the language model learns from on a laptop: thumbed-up answers and the user's edits, as token ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from edgefed import lm_task

from edgeprompt.app import Runtime
from edgeprompt.federation import lmdata, lmseeds, lora
from edgeprompt.store.feedback import FeedbackStore
from edgeprompt.store.sessions import SessionStore
from edgeprompt.store.traces import Trace, TraceLog


def _exchange(rt: Any, question: str, answer: str, keep: bool = True) -> str:
    """One asked question as `ask` stores it: a trace, and (unless --no-save) the session turns."""
    trace = Trace(model="tiny")
    TraceLog(rt.db).save(trace)
    if keep:
        sessions = SessionStore(rt.db)
        sessions.add_exchange(sessions.create().id, question, answer, trace.id)
    return trace.id


def test_thumbs_up_and_edits_are_learned_thumbs_down_is_not(data_home: Path) -> None:
    with Runtime.open(data_home) as rt:
        fb = FeedbackStore(rt.db)
        up = _exchange(rt, "How do I make tea?", "Warm the water in a kettle.")
        fb.thumbs(up, True)
        down = _exchange(rt, "Is the sea blue?", "No.")
        fb.thumbs(down, False)
        edited = _exchange(rt, "When should I plant roses?", "Never.")
        fb.edit(edited, "Never.", "Plant roses in the spring.")
        fb.thumbs(edited, False)  # the model's answer was bad; the user's edit is still what they want
        changed = _exchange(rt, "What is two plus two?", "Four.")
        fb.thumbs(changed, True)
        fb.thumbs(changed, False)  # the user changed their mind: the latest thumb counts
        unkept = _exchange(rt, "A question asked with --no-save", "an answer nobody kept", keep=False)
        fb.thumbs(unkept, True)
        examples = lmdata.chosen_examples(rt.db)
    assert [(e.prompt, e.answer, e.source) for e in examples] == [
        ("How do I make tea?", "Warm the water in a kettle.", "thumbs"),
        ("When should I plant roses?", "Plant roses in the spring.", "edit"),
    ]
    assert lmdata.counts(examples) == {"thumbs": 1, "edit": 1}


def test_seeded_laptops_hold_the_feedback_the_seeds_describe(data_home: Path) -> None:
    items = lmseeds.exchanges(lmseeds.LAPTOP_TOPICS[0], 30)
    with Runtime.open(data_home) as rt:
        lmseeds.seed_lm(rt.db, 0, n=30, model="tiny")
        examples = lmdata.chosen_examples(rt.db)
    learned = {(i.question, i.answer) for i in items if i.feedback != "down"}
    assert {(e.prompt, e.answer) for e in examples} == learned
    assert lmdata.counts(examples) == {
        "thumbs": sum(i.feedback == "up" for i in items),
        "edit": sum(i.feedback == "edit" for i in items),
    }
    assert all(e.answer not in lmseeds.POOR for e in examples)  # the model's poor answers are never targets


def test_examples_become_chat_template_ids_with_labels_on_the_answer_only(tiny_model: Any) -> None:
    from tokenizers import Tokenizer

    from edgeprompt.backends.base import Message
    from edgeprompt.backends.chat import ChatFormat

    examples = [
        lmdata.ChatExample("How do I make tea?", "Warm the water in a kettle.", "thumbs", "t1"),
        lmdata.ChatExample("Hi", "Hello there, and welcome.", "edit", "t2"),
    ]
    ids, labels = lora.encode(tiny_model.hf, examples, max_tokens=128)
    assert ids.shape == labels.shape and ids.dtype == np.int64 and len(ids) == 2
    tok = Tokenizer.from_file(str(tiny_model.hf / "tokenizer.json"))
    chat = ChatFormat(tiny_model.hf)
    for row, (x, y) in enumerate(zip(ids, labels, strict=True)):
        prompt = chat.encode([Message("user", examples[row].prompt)])  # what the backends feed the model
        assert x[: len(prompt)].tolist() == prompt
        assert (y[: len(prompt)] == lora.IGNORE).all()
        answer = tok.decode([int(t) for t in y if t != lora.IGNORE], skip_special_tokens=False)
        assert answer == examples[row].answer + "<|im_end|>\n"  # the answer and the template's end of turn
    short, short_labels = lora.encode(tiny_model.hf, examples, max_tokens=len(prompt) + 2)
    assert short.shape[1] <= len(prompt) + 2 and (short_labels != lora.IGNORE).sum(1).min() >= 1


def test_held_out_split_is_by_question(lm_home: Path, lm_config: dict[str, Any], tiny_model: Any) -> None:
    with Runtime.open(lm_home) as rt:
        examples = lmdata.chosen_examples(rt.db)
        data = lm_task.load_local(rt, tiny_model.hf, lm_config)
    train, test = lm_task.split(examples, float(lm_config["test-fraction"]))
    assert {e.prompt for e in train}.isdisjoint({e.prompt for e in test})
    assert (data.n_train, len(data.ids_test)) == (len(train), len(test)) and len(test) > 0
    assert data.counts == lmdata.counts(examples)
