"""In chat, a plain "yes" or "no" answers the approval on screen; other text waits until it is answered."""

from __future__ import annotations

import pytest

from minivess.cli.agent import _approval_word, _chat_line
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


@pytest.mark.parametrize(("line", "approved"), [("yes", True), ("OK.", True), ("go ahead", True), ("no", False)])
def test_a_plain_answer_decides_the_pending_approval(scripted_llm: ScriptedLLM, line: str, approved: bool) -> None:
    session = _pending_session(scripted_llm)
    scripted_llm.queue("Done.", "Wrote the dataset.")
    session = _chat_line(session, line)
    assert not session.pending_questions()
    (decision,) = session.graph.get_state(session.config).values["approvals"]
    assert decision["approved"] is approved
    raw = get_settings().resolved_data_dir / "tiny" / "raw"
    assert bool(list(raw.iterdir())) is approved  # the step ran only when approved


def test_another_request_waits_for_the_decision(scripted_llm: ScriptedLLM, capsys: pytest.CaptureFixture[str]) -> None:
    session = _pending_session(scripted_llm)
    session = _chat_line(session, "show the leaderboard")
    assert session.pending_questions()  # still waiting, nothing else ran
    assert "yes (/approve) or no (/reject)" in capsys.readouterr().out


def test_only_plain_answers_count() -> None:
    assert _approval_word("Yes!") is True and _approval_word("cancel") is False
    assert _approval_word("yes, but with 3 epochs") is None and _approval_word("show the leaderboard") is None
