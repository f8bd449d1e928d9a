from __future__ import annotations

import threading

import pytest

from edgeprompt.backends.base import GenerationParams
from edgeprompt.errors import UsageError
from edgeprompt.pipeline import AskRequest, Done, Notice, Token, run


def collect(rt, req):  # type: ignore[no-untyped-def]
    events = list(run(req, rt))
    done = events[-1]
    assert isinstance(done, Done)
    return events, done.result


def test_answer_streams_tokens_and_records_a_trace_per_stage(runtime) -> None:  # type: ignore[no-untyped-def]
    events, res = collect(runtime, AskRequest("hello there world", model="echo"))
    tokens = "".join(e.text for e in events if isinstance(e, Token))
    assert tokens == res.answer == "hello there world"
    trace = runtime.traces.get(res.trace_id)
    names = [s["name"] for s in trace["spans"]]
    for stage in ("session.load", "model.load", "context.fit", "generate", "session.save"):
        assert stage in names
    gen = next(s for s in trace["spans"] if s["name"] == "generate")
    assert gen["attributes"]["gen_ai.request.model"] == "echo"
    assert gen["attributes"]["gen_ai.usage.output_tokens"] == 3
    assert trace["status"] == "ok" and trace["session_id"] == res.session_id
    assert "gen_ai.input.messages" not in trace["attributes"]  # content capture is off by default


def test_session_continues_and_history_reaches_the_model(runtime) -> None:  # type: ignore[no-untyped-def]
    _, first = collect(runtime, AskRequest("one two", model="echo"))
    _, second = collect(runtime, AskRequest("three", model="echo", session_id=first.session_id))
    assert second.session_id == first.session_id
    assert second.usage["prompt_tokens"] > first.usage["prompt_tokens"]
    turns = runtime.sessions.turns(first.session_id)
    assert [t.role for t in turns] == ["user", "assistant", "user", "assistant"]


@pytest.mark.slow  # a long conversation through the whole pipeline
def test_long_history_is_summarised_and_the_answer_says_so(runtime) -> None:  # type: ignore[no-untyped-def]
    params = GenerationParams(max_tokens=32)
    sid = None
    for i in range(60):
        _, res = collect(
            runtime, AskRequest(f"message {i} " + "filler " * 40, model="echo", session_id=sid, params=params)
        )
        sid = res.session_id
    events, res = collect(runtime, AskRequest("last one", model="echo", session_id=sid, params=params))
    assert res.context["dropped_turns"] > 0
    assert any(isinstance(e, Notice) for e in events) and res.notices
    assert res.usage["prompt_tokens"] <= 2048


def test_cancel_mid_stream_keeps_the_partial_answer_marked(runtime) -> None:  # type: ignore[no-untyped-def]
    cancel = threading.Event()
    question = " ".join(f"word{i}" for i in range(1000))  # long enough that text shows before the end
    req = AskRequest(question, model="echo", cancel=cancel, params=GenerationParams(max_tokens=2000))
    shown = []
    for ev in run(req, runtime):
        if isinstance(ev, Token):
            shown.append(ev.text)
            cancel.set()  # stop as soon as the first text is on screen
        if isinstance(ev, Done):
            res = ev.result
    assert res.finish_reason == "cancelled"
    assert res.answer == "".join(shown) and question.startswith(res.answer) and len(res.answer) < len(question)
    turn = runtime.sessions.turns(res.session_id)[-1]
    assert turn.meta["interrupted"] is True
    assert runtime.traces.get(res.trace_id)["status"] == "cancelled"


def test_empty_question_is_refused(runtime) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError):
        list(run(AskRequest("   ", model="echo"), runtime))


def test_max_tokens_limits_the_answer(runtime) -> None:  # type: ignore[no-untyped-def]
    _, res = collect(
        runtime, AskRequest("one two three four five", model="echo", params=GenerationParams(max_tokens=2))
    )
    assert res.usage["completion_tokens"] == 2 and res.finish_reason == "length"


def test_a_request_bigger_than_the_room_left_is_capped_and_keeps_its_minimum(runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # benchmarks ask for fixed lengths with min_tokens; capping max_tokens to the context must not drop it
    backend = runtime.backend("echo")
    seen = []
    real_stream = backend.stream
    monkeypatch.setattr(backend, "stream", lambda request: (seen.append(request), real_stream(request))[1])
    params = GenerationParams(max_tokens=100_000, min_tokens=50_000)
    _, res = collect(runtime, AskRequest("one two three", model="echo", params=params))
    room = backend.context_length - res.usage["prompt_tokens"]
    assert [r.params.max_tokens for r in seen] == [room]
    assert [r.params.min_tokens for r in seen] == [room]
