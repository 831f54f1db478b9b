"""`/good` and `/bad` in chat score the last turn's trace."""

from __future__ import annotations

from minivess.cli.agent import _chat_line
from minivess.graphs.session import ChatSession
from minivess.observability import TraceStore, get_tracer
from minivess.settings import get_settings
from tests.fakes import ScriptedLLM


def test_feedback_scores_the_last_trace(scripted_llm: ScriptedLLM) -> None:
    settings = get_settings()
    session = ChatSession(settings)
    scripted_llm.queue("Hello there.")
    session.send("hi")
    assert session.last_trace_id is not None
    _chat_line(session, "/bad too terse")
    get_tracer(settings).flush()
    scores = TraceStore(settings.home_dir / "traces.db").scores(session.last_trace_id)
    assert [(s.name, s.value, s.comment) for s in scores] == [("user_feedback", 0.0, "too terse")]
