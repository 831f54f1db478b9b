"""An approval pins moving run references ('last', 'best', 'champion'): the yes given later runs the call on the run
the question showed, even after a newer run has made 'last' mean another one."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from minivess.graphs.chat import build_chat_graph
from minivess.graphs.checkpoint import open_checkpointer
from minivess.graphs.session import ChatSession
from minivess.pipelines.governance import audit
from minivess.settings import Settings, get_settings
from minivess.tools.base import ToolContext, ToolRegistry
from minivess.tools.registry import REGISTRY
from minivess.tools.runs import moves, resolve_run_ref
from minivess.tools.training import PromoteModelArgs, PromoteModelResult, TrainModelArgs, TrainModelResult
from tests.fakes import ScriptedLLM, call


def _finished_run(settings: Settings) -> str:
    """A finished MLflow run in the home's tracking store (nothing trained: the promotion below is recorded)."""
    from minivess.pipelines.tracking.mlflow_run import client_for

    client = client_for(settings.tracking_uri)
    experiment = client.get_experiment_by_name("pins")
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("pins")
    run = client.create_run(experiment_id, start_time=int(time.time() * 1000))
    client.set_terminated(run.info.run_id)
    time.sleep(0.01)  # distinct start times: 'last' is the newest
    return str(run.info.run_id)


def _session(promoted: list[str], thread: str | None = None) -> ChatSession:
    """A chat session whose promote_model records the run it was given (after resolving it, as the real one does)
    and whose train_model logs a finished run and nothing else (real approval policies and pins)."""

    def record(args: PromoteModelArgs, ctx: ToolContext) -> PromoteModelResult:
        promoted.append(resolve_run_ref(args.run_id, ctx))
        return PromoteModelResult(run_id=promoted[-1], model_name=args.model_name, version="1", alias=args.alias)

    def train(args: TrainModelArgs, ctx: ToolContext) -> TrainModelResult:
        run_id = _finished_run(ctx.settings)
        return TrainModelResult(
            run_id=run_id, model=args.model, loss="dice_ce", status="FINISHED", stop_reason="max_epochs",
            epochs_completed=1, best_epoch=1, best_metric=0.5, metric="val_dice", last_metrics={},
        )  # fmt: skip

    stubs: dict[str, Any] = {"promote_model": record, "train_model": train}
    tools = ToolRegistry(
        dataclasses.replace(REGISTRY.get(n), func=stubs[n]) if n in stubs else REGISTRY.get(n) for n in REGISTRY.names()
    )
    settings = get_settings()
    graph = build_chat_graph(settings, open_checkpointer(settings), tools=tools)
    return ChatSession(settings, thread_id=thread, graph=graph)


def _ask_to_promote(scripted_llm: ScriptedLLM, promoted: list[str], run_id: str) -> Any:
    scripted_llm.queue([call("transfer_to_experimenter", task="promote")], [call("promote_model", run_id=run_id)])
    session = _session(promoted)
    return session, session.send(f"promote {run_id}")


def test_a_yes_given_after_a_newer_run_promotes_the_run_the_question_showed(scripted_llm: ScriptedLLM) -> None:
    settings = get_settings()
    first = _finished_run(settings)
    promoted: list[str] = []
    session, outcome = _ask_to_promote(scripted_llm, promoted, "last")
    assert outcome.status == "awaiting_approval" and promoted == []
    (question,) = outcome.questions
    assert question["arguments"]["run_id"] == first and question["pinned"] == {"run_id": "last"}
    assert question["reason"].endswith(f"to run {first} (run_id 'last' pinned to the id shown, when asked)")

    newer = _finished_run(settings)  # 'last' now names another run
    scripted_llm.queue("Promoted.", "The run is the champion now.")
    resumed = _session(promoted, session.thread_id)  # a fresh graph, as `minivess approve` in another process
    done = resumed.decide(True, by="tester")
    assert done.status == "done"
    assert promoted == [first] and newer != first
    (approval,) = [e for e in audit.entries(settings) if e.kind == "approval"]
    assert approval.details["arguments"]["run_id"] == first  # the audit trail names the run that was approved


def test_a_run_id_is_asked_about_as_written(scripted_llm: ScriptedLLM) -> None:
    run_id = _finished_run(get_settings())
    promoted: list[str] = []
    _, outcome = _ask_to_promote(scripted_llm, promoted, run_id)
    (question,) = outcome.questions
    assert question["arguments"]["run_id"] == run_id and "pinned" not in question
    assert "pinned" not in question["reason"]


def test_a_reference_that_names_no_run_yet_is_asked_as_written_and_stays_so_on_resume(
    scripted_llm: ScriptedLLM,
) -> None:
    promoted: list[str] = []
    session, outcome = _ask_to_promote(scripted_llm, promoted, "last")  # no runs yet
    (question,) = outcome.questions
    assert question["arguments"]["run_id"] == "last" and "pinned" not in question
    assert "run_id 'last' names no run yet; resolved when it runs" in question["reason"]
    run_id = _finished_run(get_settings())  # now 'last' names a run: the answer must still count
    scripted_llm.queue("Promoted.", "Done.")
    done = _session(promoted, session.thread_id).decide(True, by="tester")
    assert done.status == "done" and promoted == [run_id]  # the question said 'last', resolved when it ran
    assert [e.kind for e in audit.entries(get_settings())] == ["approval"]


def test_after_a_call_that_makes_runs_last_means_the_run_it_makes(scripted_llm: ScriptedLLM) -> None:
    before = _finished_run(get_settings())
    promoted: list[str] = []
    scripted_llm.queue(
        [call("transfer_to_experimenter", task="train and promote")],
        [call("train_model", model="segresnet", epochs=1), call("promote_model", run_id="last")],
    )
    session = _session(promoted)
    outcome = session.send("train segresnet for 1 epoch and promote it")
    assert [q["tool"] for q in outcome.questions] == ["train_model", "promote_model"]
    promote = outcome.questions[1]
    assert promote["arguments"]["run_id"] == "last" and "pinned" not in promote
    assert "resolved when it runs: an earlier step makes runs" in promote["reason"]
    scripted_llm.queue("Trained and promoted.", "Done.")
    done = session.decide(True, by="tester")
    trained = [t.result()["run_id"] for t in done.tools if t.name == "train_model"]
    assert promoted == trained and trained != [before]


def test_a_rejection_runs_nothing(scripted_llm: ScriptedLLM) -> None:
    _finished_run(get_settings())
    promoted: list[str] = []
    session, _ = _ask_to_promote(scripted_llm, promoted, "champion:minivess-segmenter")  # no champion: not pinned
    scripted_llm.queue("Rejected.", "OK.")
    done = session.decide(False, comment="not yet")
    assert promoted == [] and done.tools[0].content == "REJECTED: not yet"


def test_yes_flag_pins_and_runs_on_the_pinned_run(scripted_llm: ScriptedLLM) -> None:
    run_id = _finished_run(get_settings())
    promoted: list[str] = []
    scripted_llm.queue(
        [call("transfer_to_experimenter", task="promote")], [call("promote_model", run_id="last")], "Done.", "Done."
    )
    outcome = _session(promoted).send("promote the last run", auto_approve=True)
    assert outcome.status == "done" and promoted == [run_id]
    (approval,) = [e for e in audit.entries(get_settings()) if e.kind == "approval"]
    assert approval.details["arguments"]["run_id"] == run_id


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("last", True), (" last… ", True), ("last.", True), ("best:segresnet:val_cldice", True), ("champion", True),
     ("challenger:other-model", True), ("bestofall", False), ("3f2a9c1b", False), ("LAST", False)],
)  # fmt: skip
def test_moving_references_are_read_as_the_resolver_reads_them(ref: str, expected: bool) -> None:
    assert moves(ref) is expected


def test_the_pin_of_each_tool_that_takes_a_run_resolves_only_moving_references() -> None:
    settings = get_settings()
    run_id = _finished_run(settings)
    ctx = ToolContext(settings=settings)
    promote, predict, queue = (REGISTRY.get(n) for n in ("promote_model", "predict_volume", "queue_for_review"))
    assert promote.pin(promote.parse({"run_id": "last"}), ctx) == {"run_id": run_id}
    assert promote.pin(promote.parse({"run_id": run_id[:8]}), ctx) == {}  # a prefix names one run already
    assert promote.pin(promote.parse({"run_id": "challenger"}), ctx) == {"run_id": None}  # moves, names nothing
    assert predict.pin(predict.parse({"run_id": "last", "input_path": "v.nii.gz"}), ctx) == {"run_id": run_id}
    assert queue.pin(queue.parse({"top_k": 3}), ctx) == {}  # no run given
    assert queue.pin(queue.parse({"run_id": "last"}), ctx) == {"run_id": run_id}
    assert REGISTRY.get("train_model").pin(REGISTRY.get("train_model").parse({"model": "segresnet"}), ctx) == {}
