"""A search's trials as its two records see them: the Optuna study and the MLflow trial runs.

`reconcile` makes them agree after a crash; `trial_rows` joins them for status and the report; the parent
"search" run is reopened and summarised here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from minivess.pipelines.search import record as records
from minivess.pipelines.search.record import SearchRecord
from minivess.pipelines.tracking import naming
from minivess.settings import Settings


@dataclass(frozen=True)
class TrialRow:
    """One trial as the study and MLflow see it together."""

    number: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    config: dict[str, Any]
    score: float | None
    round: int | None
    run_id: str | None
    run_status: str | None
    epochs: int
    stop_reason: str
    error: str
    interrupted: bool


def storage(settings: Settings, record: SearchRecord) -> Any:
    """The search's Optuna storage: its journal file, or the RDB URL it was created with."""
    import optuna

    target = records.storage_target(settings, record)
    if record.storage_url:
        return optuna.storages.RDBStorage(target, heartbeat_interval=60, grace_period=180)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(target))


def load_study(settings: Settings, record: SearchRecord) -> Any:
    """The search's study (created on first use)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=record.study_name,
        storage=storage(settings, record),
        direction="maximize",
        load_if_exists=True,
    )


def child_runs(settings: Settings, record: SearchRecord) -> dict[int, Any]:
    """The search's trial runs in MLflow by Optuna trial number (the newest run wins a duplicate number)."""
    from minivess.pipelines.tracking.mlflow_run import client_for

    client = client_for(settings.tracking_uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiment_ids,
        filter_string=(
            f"tags.`{naming.TAG_SEARCH_ID}` = '{record.search_id}' and tags.`{naming.TAG_RUN_KIND}` = 'train'"
        ),
        max_results=5000,
        order_by=["attributes.start_time ASC"],
    )
    out: dict[int, Any] = {}
    for run in runs:
        number = run.data.tags.get(naming.TAG_SEARCH_TRIAL)
        if number is not None and number.isdigit():
            out[int(number)] = run
    return out


def reconcile(settings: Settings, record: SearchRecord) -> list[str]:
    """Make the study and MLflow agree after a crash; returns what was done, one sentence each.

    A trial the study shows RUNNING while no driver runs it: its run FINISHED → told COMPLETE with its best
    score (not re-run); otherwise the run is marked KILLED, the trial FAIL (interrupted) and its
    configuration queued again once. A trial run left RUNNING by a dead worker is marked FAILED.
    """
    from optuna.trial import TrialState

    from minivess.pipelines.tracking.mlflow_run import client_for

    client = client_for(settings.tracking_uri)
    study = load_study(settings, record)
    runs = child_runs(settings, record)
    notes: list[str] = []
    settled: set[int] = set()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        settled.add(trial.number)
        run = runs.get(trial.number)
        score = _best_score(client, run.info.run_id) if run is not None and run.info.status == "FINISHED" else None
        if run is not None and score is not None:
            study.tell(trial.number, score)
            notes.append(
                f"trial {trial.number}'s run {run.info.run_id[:8]} finished but the study had not recorded it (the "
                f"driver or the budget stopped first): recorded its score {score:.3f}, not re-run."
            )
            continue
        study._storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        study.tell(trial.number, state=TrialState.FAIL)
        if run is not None and run.info.status == "RUNNING":
            client.set_tag(run.info.run_id, naming.TAG_ERROR, "interrupted: the search driver stopped mid-trial")
            client.set_terminated(run.info.run_id, status="KILLED")
        if trial.user_attrs.get("retry_of") is None:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
            notes.append(f"trial {trial.number} was interrupted mid-run: marked KILLED and queued again once.")
        else:
            notes.append(f"trial {trial.number} (already a retry) was interrupted again: marked failed.")
    finished_numbers = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    for number, run in runs.items():
        if run.info.status == "RUNNING" and number in finished_numbers and number not in settled:
            client.set_tag(run.info.run_id, naming.TAG_ERROR, "the trial's worker died; Ray retried or failed it")
            client.set_terminated(run.info.run_id, status="FAILED")
            notes.append(
                f"trial {number}'s run {run.info.run_id[:8]} was left RUNNING by a dead worker: marked FAILED."
            )
    return notes


def _best_score(client: Any, run_id: str) -> float | None:
    values = [m.value for m in client.get_metric_history(run_id, naming.METRIC_VAL_CLDICE) if math.isfinite(m.value)]
    return max(values) if values else None


def trial_rows(settings: Settings, record: SearchRecord) -> list[TrialRow]:
    """Every trial of the search, study and MLflow joined by trial number."""
    from minivess.pipelines.tracking.mlflow_run import client_for

    client = client_for(settings.tracking_uri)
    study = load_study(settings, record)
    runs = child_runs(settings, record)
    rows = []
    for trial in study.get_trials(deepcopy=False):
        run = runs.get(trial.number)
        tags = run.data.tags if run is not None else {}
        rows.append(
            TrialRow(
                number=trial.number,
                state=trial.state.name,
                config=dict(trial.params),
                score=trial.value if trial.state.name == "COMPLETE" else None,
                round=trial.user_attrs.get("round"),
                run_id=run.info.run_id if run is not None else None,
                run_status=run.info.status if run is not None else None,
                epochs=len(client.get_metric_history(run.info.run_id, naming.METRIC_VAL_CLDICE)) if run else 0,
                stop_reason=tags.get("minivess.stop_reason", ""),
                error=tags.get(naming.TAG_ERROR, ""),
                interrupted=bool(trial.user_attrs.get("interrupted")),
            )
        )
    return rows


def reopen_parent(settings: Settings, record: SearchRecord) -> None:
    from minivess.pipelines.tracking.mlflow_run import client_for

    if record.parent_run_id:
        client_for(settings.tracking_uri).update_run(record.parent_run_id, status="RUNNING")


def close_parent(settings: Settings, record: SearchRecord, status: str) -> None:
    """Summarise the trials on the parent run and end it with `status`."""
    from mlflow.entities import Metric

    from minivess.pipelines.tracking.mlflow_run import client_for

    if not record.parent_run_id:
        return
    client = client_for(settings.tracking_uri)
    rows = trial_rows(settings, record)
    scored = [r for r in rows if r.score is not None]
    now = int(time.time() * 1000)
    metrics = [
        Metric("search_trials_complete", float(len(scored)), now, record.sessions),
        Metric("search_trials_failed", float(sum(r.state == "FAIL" for r in rows)), now, record.sessions),
        Metric("search_minutes_spent", record.spent_seconds / 60.0, now, record.sessions),
    ]
    if scored:
        best = max(scored, key=lambda r: r.score or 0.0)
        metrics.append(Metric("best_val_cldice", float(best.score or 0.0), now, record.sessions))
        client.set_tag(record.parent_run_id, "minivess.search.best_run_id", best.run_id or "")
    client.log_batch(record.parent_run_id, metrics=metrics)
    client.set_terminated(record.parent_run_id, status=status)
