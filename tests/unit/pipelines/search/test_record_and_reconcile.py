"""A search's record on disk, its driver lock, and how a crash is settled between the study and MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.entities import Metric
from optuna.trial import TrialState

from minivess.errors import ConfigError, TrainingError
from minivess.pipelines.search import engine, trial_state
from minivess.pipelines.search import record as records
from minivess.pipelines.search.planning import plan_search
from minivess.pipelines.search.record import SearchSpec
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import client_for
from minivess.settings import get_settings


def _spec(trials: int = 4) -> SearchSpec:
    return SearchSpec(budget_minutes=5, trials=trials, families=("segresnet",), epochs=2, max_trial_minutes=2)


def _trial_run(settings, record, number: int, status: str, cldice: list[float]) -> str:  # type: ignore[no-untyped-def]
    client = client_for(settings.tracking_uri)
    experiment = client.get_experiment_by_name(naming.DEFAULT_EXPERIMENT)
    run = client.create_run(
        experiment.experiment_id,
        tags={
            naming.TAG_RUN_KIND: "train",
            naming.TAG_SEARCH_ID: record.search_id,
            naming.TAG_SEARCH_TRIAL: str(number),
            naming.TAG_PARENT_RUN: record.parent_run_id,
        },
    )
    client.log_batch(
        run.info.run_id, metrics=[Metric(naming.METRIC_VAL_CLDICE, v, 0, i + 1) for i, v in enumerate(cldice)]
    )
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status=status)
    return str(run.info.run_id)


def test_record_round_trip_last_and_unknown_ids() -> None:
    settings = get_settings()
    with pytest.raises(ConfigError, match="no searches yet"):
        records.load(settings, "last")
    record = engine.create_search(_spec(), plan_search([], ("segresnet",), 4), settings)
    assert records.load(settings, "last") == record
    assert records.list_ids(settings) == [record.search_id]
    with pytest.raises(ConfigError, match=record.search_id):
        records.load(settings, "nope")
    parent = client_for(settings.tracking_uri).get_run(record.parent_run_id)
    assert parent.data.tags[naming.TAG_RUN_KIND] == "search"
    assert parent.data.params["search.trials"] == "4"


def test_a_second_driver_of_the_same_search_is_refused() -> None:
    settings = get_settings()
    record = engine.create_search(_spec(), plan_search([], ("segresnet",), 4), settings)
    with (
        records.driving(settings, record.search_id),
        pytest.raises(TrainingError, match="another process"),
        records.driving(settings, record.search_id),
    ):
        pass
    with records.driving(settings, record.search_id):  # released: a later resume may drive it
        pass


def test_warm_starts_are_queued_in_the_study() -> None:
    settings = get_settings()
    plan = plan_search([], ("segresnet",), 8).model_copy(
        update={"warm_starts": [{"family": "segresnet", "loss": "dice_ce", "optimizer": "adamw", "lr": 1e-3}]}
    )
    record = engine.create_search(_spec(8), plan, settings)
    waiting = trial_state.load_study(settings, record).get_trials(states=(TrialState.WAITING,))
    assert [t.params if t.params else t.system_attrs.get("fixed_params") for t in waiting] == [plan.warm_starts[0]]


def test_reconcile_keeps_a_finished_trial_and_requeues_an_interrupted_one_once(minivess_home: Path) -> None:
    settings = get_settings()
    record = engine.create_search(_spec(), plan_search([], ("segresnet",), 4), settings)
    study = trial_state.load_study(settings, record)
    space = record.rounds[0].space
    done, cut, never = study.ask(), study.ask(), study.ask()
    for trial in (done, cut, never):
        space.suggest(trial)
    finished_run = _trial_run(settings, record, done.number, "FINISHED", [0.4, 0.7, 0.6])
    cut_run = _trial_run(settings, record, cut.number, "RUNNING", [0.3])

    notes = trial_state.reconcile(settings, record)

    study = trial_state.load_study(settings, record)
    by_number = {t.number: t for t in study.get_trials()}
    assert by_number[done.number].state == TrialState.COMPLETE and by_number[done.number].value == pytest.approx(0.7)
    assert by_number[cut.number].state == TrialState.FAIL and by_number[cut.number].user_attrs["interrupted"]
    assert by_number[never.number].state == TrialState.FAIL
    retries = [t for t in study.get_trials(states=(TrialState.WAITING,))]
    assert sorted(t.user_attrs["retry_of"] for t in retries) == sorted([cut.number, never.number])
    client = client_for(settings.tracking_uri)
    assert client.get_run(finished_run).info.status == "FINISHED"
    assert client.get_run(cut_run).info.status == "KILLED"
    assert len(notes) == 3 and "not re-run" in notes[0]

    # A retry interrupted again is failed, not queued a third time; a second reconcile changes nothing else.
    retry = study.ask()
    assert retry.user_attrs.get("retry_of") in (cut.number, never.number)
    notes = trial_state.reconcile(settings, record)
    assert any("already a retry" in n for n in notes)
    assert trial_state.reconcile(settings, record) == []
    rows = trial_state.trial_rows(settings, record)
    assert {r.number: r.state for r in rows}[done.number] == "COMPLETE"


def test_ctrl_c_while_a_crash_is_settled_lets_the_settling_finish_and_marks_the_search_interrupted(
    minivess_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI caught it: Ctrl-C between the parent run reopening and the graceful handler went to Python's default
    handler, whose KeyboardInterrupt landed in a finaliser, was dropped, and the search ran to the end (exit 0)."""
    import os
    import signal
    import threading

    from minivess import cancel

    settings = get_settings()
    record = engine.create_search(_spec(), plan_search([], ("segresnet",), 4), settings)
    settled: list[str] = []

    def reconcile_pressing_ctrl_c(settings, record):  # type: ignore[no-untyped-def]
        os.kill(os.getpid(), signal.SIGINT)  # Python runs the handler before the next line
        settled.append("settled")
        return ["a note written after the Ctrl-C"]

    def no_ray(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("no Ray session may start after a Ctrl-C")

    monkeypatch.setattr(trial_state, "reconcile", reconcile_pressing_ctrl_c)
    monkeypatch.setattr(engine, "ray_session", no_ray)
    monkeypatch.setattr(cancel, "CANCELLED", threading.Event())  # the process-wide flag is left as it was
    try:
        engine.drive(record.search_id, settings)
    except cancel.Cancelled as stopped:
        assert "minivess search resume" in str(stopped)
    except KeyboardInterrupt:  # caught here: pytest would end the whole session on it
        pytest.fail("the Ctrl-C went to Python's default handler and cut the settling short")
    else:
        pytest.fail("the search ran on after a Ctrl-C")

    assert settled == ["settled"]
    saved = records.load(settings, record.search_id)
    assert saved.status == "interrupted" and saved.notes == ["a note written after the Ctrl-C"]
    assert client_for(settings.tracking_uri).get_run(record.parent_run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
