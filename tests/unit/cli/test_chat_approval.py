"""In chat, a plain "yes" or "no" answers the approval on screen; other text waits until it is answered."""

from __future__ import annotations

import pytest

from minivess.cli.agent import _approval_answer, _chat_line, _show_pending
from minivess.graphs.session import ChatSession
from minivess.settings import get_settings
from tests.fakes import ScriptedLLM, call


def _pending_session(scripted_llm: ScriptedLLM) -> ChatSession:
    target = get_settings().resolved_data_dir / "tiny"
    (target / "raw").mkdir(parents=True)  # an existing dataset: overwriting it needs approval
    synth = {"n": 1, "shape": [24, 24, 8], "name": "tiny", "preset": "small"}
    scripted_llm.queue([call("transfer_to_experimenter", task="synth")], [call("synthesize_data", **synth)])
    session = ChatSession(get_settings())
    assert session.send("make a tiny dataset").status == "awaiting_approval"
    return session


def _raw_files() -> int:
    return len(list((get_settings().resolved_data_dir / "tiny" / "raw").iterdir()))


@pytest.mark.parametrize(
    ("line", "approved", "comment"),
    [("yes", True, ""), ("OK.", True, ""), ("go ahead", True, ""), ("no", False, ""), ("cancel", False, ""),
     ("no, it would overwrite my data", False, "it would overwrite my data")],
)  # fmt: skip
def test_a_plain_answer_decides_the_pending_approval(
    scripted_llm: ScriptedLLM, line: str, approved: bool, comment: str
) -> None:
    session = _pending_session(scripted_llm)
    scripted_llm.queue("Done.", "Wrote the dataset.")
    session = _chat_line(session, line)
    assert not session.pending_questions()
    (decision,) = session.graph.get_state(session.config).values["approvals"]
    assert decision["approved"] is approved and decision.get("comment", "") == comment
    assert bool(_raw_files()) is approved  # the step ran only when approved


def test_another_request_waits_and_says_it_was_not_run(
    scripted_llm: ScriptedLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _pending_session(scripted_llm)
    capsys.readouterr()
    session = _chat_line(session, "yes, but with 3 volumes")  # not a plain yes: nothing is approved
    assert session.pending_questions() and not _raw_files()
    out = capsys.readouterr().out
    assert "approval needed" in out and "synthesize_data" in out  # what is pending is shown again
    assert "yes (/approve) or no (/reject)" in out and "send it again" in out


def test_yes_with_nothing_pending_is_an_ordinary_message(scripted_llm: ScriptedLLM) -> None:
    session = ChatSession(get_settings())
    scripted_llm.queue("Nothing is waiting for a decision.")
    session = _chat_line(session, "yes")
    messages = session.graph.get_state(session.config).values["messages"]
    assert [(m["role"], m["content"]) for m in messages[-2:]] == [
        ("user", "yes"),
        ("assistant", "Nothing is waiting for a decision."),
    ]  # sent to the agent as a request, not taken as a decision


def test_a_resumed_thread_shows_what_it_waits_for(
    scripted_llm: ScriptedLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _pending_session(scripted_llm)
    capsys.readouterr()
    assert _show_pending(ChatSession(get_settings(), thread_id=session.thread_id))  # as `minivess chat --thread`
    assert "synthesize_data" in capsys.readouterr().out
    assert not _show_pending(ChatSession(get_settings()))


def test_only_plain_answers_count() -> None:
    assert _approval_answer("Yes!") == (True, "") and _approval_answer("don\u2019t") == (False, "")
    assert _approval_answer("yes, but with 3 epochs") is None and _approval_answer("show the leaderboard") is None
    assert _approval_answer("no, too long") == (False, "too long")
