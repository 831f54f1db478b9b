"""The chat graph driven by a scripted fake LLM: routing, approval, rejection, budgets, loops, tool errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.graphs.session import ChatSession, PendingApprovalError
from minivess.pipelines.governance import audit
from minivess.settings import get_settings
from tests.fakes import ScriptedLLM, call


def _session(thread: str | None = None) -> ChatSession:
    return ChatSession(get_settings(), thread_id=thread)


def test_supervisor_routes_to_the_analyst_and_answers(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        [call("transfer_to_analyst", task="describe the warehouse")],
        [call("describe_warehouse")],
        "Here are the tables.",
        "The warehouse has runs, params and metrics tables.",
    )
    outcome = _session().send("what can I query?")
    assert outcome.status == "done"
    assert outcome.answer == "The warehouse has runs, params and metrics tables."
    assert [t.name for t in outcome.tools] == ["describe_warehouse"]
    assert "runs" in outcome.tools[0].content
    offered = [seen["tools"] for seen in scripted_llm.seen]
    assert offered[0] == ["transfer_to_experimenter", "transfer_to_analyst"]
    assert "describe_warehouse" in offered[1] and "train_model" not in offered[1]
    assert outcome.usage["llm_calls"] == 4


def test_tool_input_error_goes_back_to_the_model(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        [call("transfer_to_experimenter", task="evaluate")],
        [call("evaluate_run", run_id="no-such-run")],
        "That run does not exist.",
        "I could not find run no-such-run.",
    )
    outcome = _session().send("evaluate run no-such-run")
    assert outcome.status == "failed"  # reported as such (issue 11): `ask` exits 1, --json says "failed"
    assert outcome.tools[0].content.startswith("ERROR:")
    worker_view = scripted_llm.seen[2]["messages"]
    assert worker_view[-1]["role"] == "tool" and "ERROR:" in worker_view[-1]["content"]


def test_invalid_arguments_are_a_tool_error_not_a_crash(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        [call("transfer_to_experimenter", task="train")],
        [call("train_model", model="unet", epochs=-3)],
        "Bad arguments.",
        "I need a valid model.",
    )
    outcome = _session().send("train a unet")
    assert outcome.tools[0].content.startswith("ERROR: train_model: invalid arguments")
    assert "model" in outcome.tools[0].content and "epochs" in outcome.tools[0].content


def _synth_args() -> dict[str, object]:
    return {"n": 1, "shape": [24, 24, 8], "name": "tiny", "preset": "small"}


def test_approval_pauses_and_a_new_process_resumes_it(scripted_llm: ScriptedLLM) -> None:
    target = get_settings().resolved_data_dir / "tiny"
    (target / "raw").mkdir(parents=True)  # an existing dataset: overwriting it needs approval
    scripted_llm.queue([call("transfer_to_experimenter", task="synth")], [call("synthesize_data", **_synth_args())])
    first = _session()
    outcome = first.send("make a tiny dataset")
    assert outcome.status == "awaiting_approval"
    assert outcome.questions[0]["tool"] == "synthesize_data"
    assert "overwrites" in outcome.questions[0]["reason"]
    assert not list((target / "raw").iterdir())  # nothing ran before the decision
    with pytest.raises(PendingApprovalError):
        first.send("something else")

    scripted_llm.queue("Done.", "Wrote the dataset.")
    second = _session(first.thread_id)  # a fresh graph and checkpointer connection, as in another process
    outcome = second.decide(True, by="tester")
    assert outcome.status == "done"
    assert [t.name for t in outcome.tools] == ["synthesize_data"]
    assert len(list((target / "raw").iterdir())) == 1  # ran exactly once
    assert second.graph.get_state(second.config).values["approvals"][0]["by"] == "tester"
    approvals = [e for e in audit.entries(get_settings()) if e.kind == "approval"]
    assert len(approvals) == 1 and approvals[0].actor == "tester"  # who decided, in the audit trail
    assert approvals[0].details["tool"] == "synthesize_data" and "overwrites" in approvals[0].subject
    assert audit.verify(get_settings()).ok


def test_rejection_is_explained_to_the_worker_and_nothing_runs(scripted_llm: ScriptedLLM) -> None:
    target = get_settings().resolved_data_dir / "tiny"
    (target / "raw").mkdir(parents=True)
    scripted_llm.queue([call("transfer_to_experimenter", task="synth")], [call("synthesize_data", **_synth_args())])
    session = _session()
    session.send("make a tiny dataset")
    scripted_llm.queue("The user declined.", "OK, I left the dataset alone.")
    outcome = session.decide(False, comment="keep my data")
    assert outcome.answer == "OK, I left the dataset alone."
    assert outcome.tools[0].content == "REJECTED: keep my data"
    assert not list((target / "raw").iterdir())
    (rejection,) = [e for e in audit.entries(get_settings()) if e.kind in {"approval", "rejection"}]
    assert rejection.kind == "rejection" and rejection.reason == "keep my data"


def test_tool_call_budget_stops_the_request(scripted_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIVESS_MAX_TOOL_CALLS", "1")
    scripted_llm.queue(
        [call("transfer_to_analyst", task="look")],
        [call("describe_warehouse"), call("failure_summary")],
    )
    outcome = _session().send("look around")
    assert outcome.status == "stopped"
    assert outcome.stop_reason == "budget"
    assert [t.content.startswith("ERROR: not run") for t in outcome.tools] == [False, True]
    assert "MINIVESS_MAX_TOOL_CALLS" in (outcome.answer or "")


def test_step_budget_stops_a_chatty_supervisor(scripted_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIVESS_MAX_STEPS", "3")
    scripted_llm.queue(*([[call("transfer_to_analyst", task="x")], "nothing to do"] * 3))
    outcome = _session().send("loop forever")
    assert outcome.stop_reason == "budget"
    assert len(scripted_llm.seen) == 3


def test_repeating_the_same_call_is_detected_as_a_loop(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        [call("transfer_to_analyst", task="look")],
        [call("describe_warehouse")],
        [call("describe_warehouse")],
    )
    outcome = _session().send("describe twice")
    assert outcome.stop_reason == "loop"
    assert len([t for t in outcome.tools if t.ok]) == 1


def test_dry_run_returns_the_planned_calls_and_runs_nothing(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue([call("transfer_to_experimenter", task="synth")], [call("synthesize_data", **_synth_args())])
    outcome = _session().send("make a tiny dataset", dry_run=True)
    assert outcome.status == "dry_run"
    assert outcome.planned_calls == [{"name": "synthesize_data", "arguments": _synth_args()}]
    assert not (get_settings().resolved_data_dir / "tiny").exists()


def test_a_thread_continues_after_a_restart(scripted_llm: ScriptedLLM, minivess_home: Path) -> None:
    scripted_llm.queue("Hello!")
    first = _session()
    first.send("hi")
    scripted_llm.queue("Still here.")
    second = _session(first.thread_id)
    outcome = second.send("are you there?")
    assert outcome.answer == "Still here."
    history = second.graph.get_state(second.config).values["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["hi", "are you there?"]


def test_a_call_over_the_compute_budget_ends_the_request_without_asking(
    scripted_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11: approval was asked for "2000 CPU-minutes" and then refused by the 120-minute budget anyway."""
    monkeypatch.setenv("MINIVESS_MAX_COMPUTE_MINUTES", "1")
    scripted_llm.queue(
        [call("transfer_to_experimenter", task="train")], [call("train_model", model="segresnet", epochs=1000)]
    )
    outcome = _session().send("train segresnet for 1000 epochs")
    assert outcome.status == "stopped" and outcome.stop_reason == "budget"
    assert not outcome.questions
    assert "MINIVESS_MAX_COMPUTE_MINUTES" in (outcome.answer or "")
    assert [t.content.startswith("ERROR: not run") for t in outcome.tools] == [True]
    assert len(scripted_llm.seen) == 2  # supervisor, experimenter; no one is asked to approve anything


def test_only_the_calls_within_budget_are_asked_about(
    scripted_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIVESS_MAX_TOOL_CALLS", "1")
    target = get_settings().resolved_data_dir / "tiny"
    (target / "raw").mkdir(parents=True)  # overwriting it needs approval; the second call is over the tool budget
    scripted_llm.queue(
        [call("transfer_to_experimenter", task="synth then train")],
        [call("synthesize_data", **_synth_args()), call("train_model", model="segresnet", epochs=2)],
    )
    outcome = _session().send("make a tiny dataset, then train on it")
    assert outcome.status == "awaiting_approval"
    assert [q["tool"] for q in outcome.questions] == ["synthesize_data"]


def _observations(session: ChatSession) -> list[tuple[str, str]]:
    from minivess.observability import get_tracer

    tracer = get_tracer(get_settings())
    tracer.flush()
    assert session.last_trace_id is not None
    return [(o.type, o.name) for o in tracer.store.observations(session.last_trace_id)]


def test_each_llm_hop_is_one_generation_named_after_its_node(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue(
        [call("transfer_to_analyst", task="describe the warehouse")],
        [call("describe_warehouse")],
        "Here are the tables.",
        "The warehouse has tables.",
    )
    session = _session()
    assert session.send("what can I query?").status == "done"
    seen = _observations(session)
    assert seen == [
        ("agent", "chat"),
        ("generation", "supervisor"),
        ("generation", "analyst"),
        ("tool", "describe_warehouse"),
        ("generation", "analyst"),
        ("generation", "supervisor"),
    ]


def test_a_budget_stop_before_the_llm_call_is_a_warning_event(
    scripted_llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIVESS_MAX_STEPS", "1")
    scripted_llm.queue([call("transfer_to_analyst", task="x")])
    session = _session()
    assert session.send("loop forever").stop_reason == "budget"
    seen = _observations(session)
    assert seen == [("agent", "chat"), ("generation", "supervisor"), ("event", "analyst stopped")]
