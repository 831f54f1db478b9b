"""The search driver: rounds of Ray Tune trials, Optuna TPE as the searcher, ASHA stopping, crash-safe resume.

State of record: the Optuna study (journal file, or an RDB URL) for trials; MLflow for trial runs (children
of one parent "search" run); `search.json` for the plan and the time spent. A driver killed at any moment is
resumed by `resume_search`: trials the study still shows RUNNING are settled from MLflow first (a finished
run is told to the study with its score, never re-run; an unfinished one is marked KILLED and its
configuration queued once more), then the remaining rounds run in the remaining budget.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from minivess import cancel
from minivess.errors import TrainingError
from minivess.pipelines.search import record as records
from minivess.pipelines.search import trial_state
from minivess.pipelines.search.context import SCORE, TrialContext
from minivess.pipelines.search.planning import SearchPlan, replan
from minivess.pipelines.search.record import RoundRecord, SearchRecord, SearchSpec
from minivess.pipelines.search.space import SearchSpace
from minivess.pipelines.search.trial_state import TrialRow
from minivess.pipelines.tracking import naming
from minivess.settings import Settings

logger = logging.getLogger(__name__)

MIN_ROUND_SECONDS = 5.0  # below this much budget no new round starts
FINISHED_STATES = ("COMPLETE", "PRUNED", "FAIL")


class SearchObserver(Protocol):
    """Receives search progress (the CLI renders it; the tools forward it to the trace)."""

    def note(self, text: str) -> None: ...

    def round_started(self, index: int, trials: int, space: SearchSpace) -> None: ...

    def trial_started(self, number: int, config: dict[str, Any]) -> None: ...

    def trial_epoch(self, number: int, epoch: int, score: float) -> None: ...

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None: ...


class NullSearchObserver:
    def note(self, text: str) -> None:
        return None

    def round_started(self, index: int, trials: int, space: SearchSpace) -> None:
        return None

    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        return None

    def trial_epoch(self, number: int, epoch: int, score: float) -> None:
        return None

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None:
        return None


# -- creating and driving ----------------------------------------------------------------------------------------
def create_search(spec: SearchSpec, plan: SearchPlan, settings: Settings) -> SearchRecord:
    """Write the record, the parent MLflow run and the study (with the warm-start configurations queued)."""

    from minivess.pipelines.tracking.mlflow_run import RunRecorder, client_for, get_or_create_experiment

    record = SearchRecord(
        search_id=records.new_search_id(),
        created_at=time.time(),
        spec=spec,
        reasoning=list(plan.reasoning),
        warm_starts=list(plan.warm_starts),
        rounds=[RoundRecord(index=0, trials=plan.rounds[0], space=plan.space, reasoning="; ".join(plan.reasoning))]
        + [RoundRecord(index=i, trials=n, space=plan.space, reasoning="") for i, n in enumerate(plan.rounds[1:], 1)],
        storage_url=settings.optuna_storage,
    )
    client = client_for(settings.tracking_uri)
    experiment_id = get_or_create_experiment(client, naming.DEFAULT_EXPERIMENT, _artifact_root(settings))
    parent = RunRecorder.create(
        client,
        experiment_id,
        f"search-{record.search_id}",
        {naming.TAG_RUN_KIND: "search", naming.TAG_SEARCH_ID: record.search_id},
    )
    parent.log_params({f"search.{k}": str(v) for k, v in spec.model_dump(mode="json").items()})
    record.parent_run_id = parent.run_id
    records.save(settings, record)
    study = trial_state.load_study(settings, record)
    for config in plan.warm_starts:
        study.enqueue_trial(config, user_attrs={"warm_start": True})
    return record


def drive(search_id: str, settings: Settings, observer: SearchObserver | None = None) -> SearchRecord:
    """Run (or resume) a search until its trials or its budget are spent; returns the final record.

    Raises:
        TrainingError: another process drives this search, or Ray could not start.
    """
    observer = observer or NullSearchObserver()
    # The graceful handler is in place before the parent run reopens: a Ctrl-C while the crash is settled sets the
    # flag (with the default handler it could land in a finaliser, where Python prints and drops it).
    with graceful_interrupt(), records.driving(settings, search_id):
        record = records.load(settings, search_id)
        if record.status == "finished":
            observer.note(f"search {search_id} already finished.")
            return record
        record.sessions += 1
        record.status = "running"
        records.save(settings, record)
        try:
            trial_state.reopen_parent(settings, record)
            _note_all(trial_state.reconcile(settings, record), record, observer)
            records.save(settings, record)
            if not cancel.CANCELLED.is_set():
                with ray_session(settings, record.spec):
                    _run_rounds(settings, record, observer)
            if cancel.CANCELLED.is_set():
                raise cancel.Cancelled(
                    f"search {search_id} stopped by the user; continue it with `minivess search resume {search_id}`"
                )
        except KeyboardInterrupt:
            with _sigint_ignored():  # a second Ctrl-C must not cut the record of the first one short
                record.status = "interrupted"
                records.save(settings, record)
                trial_state.close_parent(settings, record, "KILLED")
            raise
        except BaseException as exc:
            record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
            records.save(settings, record)
            trial_state.close_parent(settings, record, "FAILED")
            raise
        with _sigint_ignored():  # every trial is settled: a Ctrl-C now must not leave the record half-finished
            _note_all(trial_state.reconcile(settings, record), record, observer)
            record.status = "finished"
            records.save(settings, record)
            trial_state.close_parent(settings, record, "FINISHED")
        return record


def _note_all(notes: list[str], record: SearchRecord, observer: SearchObserver) -> None:
    for note in notes:
        record.notes.append(note)
        observer.note(note)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_rounds(settings: Settings, record: SearchRecord, observer: SearchObserver) -> None:
    for round_ in record.rounds:
        if round_.finished:
            continue
        if cancel.CANCELLED.is_set():
            return
        done = sum(1 for row in trial_state.trial_rows(settings, record) if row.round == round_.index and _counts(row))
        left = round_.trials - done
        if record.remaining_seconds() < MIN_ROUND_SECONDS:
            record.notes.append(f"budget spent before round {round_.index + 1} finished ({done} trial(s) run).")
            observer.note(record.notes[-1])
            return
        if not round_.started and round_.index > 0:
            scored = [(r.config, r.score) for r in trial_state.trial_rows(settings, record) if r.score is not None]
            space, why = replan(record.rounds[round_.index - 1].space, scored)
            round_.space, round_.reasoning = space, why
            record.reasoning.append(why)
            observer.note(why)
        round_.started = True
        records.save(settings, record)
        if left > 0:
            observer.round_started(round_.index, left, round_.space)
            _run_round(settings, record, round_, left, observer)
        if cancel.CANCELLED.is_set():
            return  # the round stopped early: it is not finished, `resume` runs the rest
        round_.finished = True
        records.save(settings, record)


def _counts(row: TrialRow) -> bool:
    return row.state in FINISHED_STATES and not row.interrupted


# -- one round on Ray Tune ---------------------------------------------------------------------------------------
class SpaceFunction:
    """Optuna define-by-run space for Ray's OptunaSearch; tags each trial with its round (picklable)."""

    def __init__(self, space: SearchSpace, round_index: int) -> None:
        self.space, self.round_index = space, round_index

    def __call__(self, trial: Any) -> dict[str, Any]:
        self.space.suggest(trial)
        trial.set_user_attr("round", self.round_index)
        return {"trial_number": trial.number}


def _run_round(
    settings: Settings, record: SearchRecord, round_: RoundRecord, trials: int, observer: SearchObserver
) -> None:
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from minivess.pipelines.search.callbacks import SearchProgress
    from minivess.pipelines.search.trial import SearchTrial

    spec = record.spec
    context = TrialContext(
        search_id=record.search_id,
        parent_run_id=record.parent_run_id or "",
        home=str(settings.home_dir),
        tracking_uri=settings.tracking_uri,
        device=settings.device,
        epochs=spec.epochs,
        max_trial_minutes=spec.max_trial_minutes,
        dataset=spec.dataset,
        seed=spec.seed,
        threads=spec.threads_per_trial,
        overrides=dict(spec.overrides),
    )
    searcher = OptunaSearch(
        space=SpaceFunction(round_.space, round_.index),
        metric=SCORE,
        mode="max",
        sampler=sampler_for(spec, record.warm_starts, seed=spec.seed + 1000 * record.sessions + round_.index),
        study_name=record.study_name,
        storage=trial_state.storage(settings, record),
    )
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        metric=SCORE,
        mode="max",
        max_t=spec.epochs,
        grace_period=max(1, spec.epochs // 3),
        reduction_factor=3,
    )
    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    callback = SearchProgress(settings, record, observer)
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(SearchTrial, context=context), {"cpu": spec.threads_per_trial}),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=trials,
            time_budget_s=max(1.0, record.remaining_seconds()),
            max_concurrent_trials=max(1, cpus // spec.threads_per_trial),
            reuse_actors=False,
        ),
        run_config=tune.RunConfig(
            name=f"round{round_.index}-session{record.sessions}",
            storage_path=str(records.search_dir(settings, record.search_id) / "ray"),
            callbacks=[callback],
            failure_config=tune.FailureConfig(max_failures=1),
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=0, checkpoint_at_end=False),
            verbose=0,
            stop=_stopper(),
        ),
    )
    tuner.fit()
    callback.persist()


def _stopper() -> Any:
    """Ends the whole round (trials finish their epoch and their run) once Ctrl-C set the cancel flag."""
    from ray import tune

    class CancelStopper(tune.Stopper):
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            return cancel.CANCELLED.is_set()

    return CancelStopper()


@contextmanager
def graceful_interrupt() -> Iterator[None]:
    """In the main thread: the first Ctrl-C asks the search to stop after the running epochs, a second one
    interrupts at once. Elsewhere (an agent's worker thread) `cancel.cancel_on_interrupt` sets the same flag.
    Ray Tune's own SIGINT handler is off (TUNE_DISABLE_SIGINT_HANDLER): it would suggest `Tuner.restore`.
    """
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    ):
        yield
        return
    cancel.CANCELLED.clear()

    def first_stops_gracefully(signum: int, frame: Any) -> None:
        if cancel.CANCELLED.is_set():
            raise KeyboardInterrupt
        cancel.CANCELLED.set()
        logger.warning("stopping the search after the running epoch(s); Ctrl-C again to stop at once")

    previous = signal.signal(signal.SIGINT, first_stops_gracefully)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def sampler_for(spec: SearchSpec, warm_starts: list[dict[str, Any]], seed: int) -> Any:
    """TPE; with warm starts from history it models earlier (fewer random start-up trials)."""
    import optuna

    startup = max(2, min(10, spec.trials // 4)) if warm_starts else min(10, max(2, spec.trials // 2))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True)


# -- Ray --------------------------------------------------------------------------------------------------------
@contextmanager
def ray_session(settings: Settings, spec: SearchSpec) -> Iterator[None]:
    """Ray in-process (dashboard off, CPUs of this machine), or the cluster at MINIVESS_RAY_ADDRESS."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ray runs workers at nice 15 by default: any other load on the machine then starves the trials (measured:
    # a trial's imports took 53 s instead of 8 s beside one niced training process).
    os.environ.setdefault("RAY_worker_niceness", "0")
    if not settings.ray_address and "RAY_AUTH_TOKEN" not in os.environ and "RAY_AUTH_TOKEN_PATH" not in os.environ:
        # A local instance listens on the node's address: keep Ray's token auth, but with a token of this
        # process instead of the one Ray would write to ~/.ray/auth_token (the user's home is not ours).
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    import ray

    if ray.is_initialized():
        yield
        return
    common: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if settings.ray_address:
            ray.init(address=settings.ray_address, **common)
        else:
            # address="local": always a new in-process instance, never a `ray start` cluster Ray would find by itself
            ray.init(
                address="local",
                num_cpus=max(spec.threads_per_trial, os.cpu_count() or 1),
                include_dashboard=False,
                **common,
            )
    except Exception as exc:
        where = f"the Ray cluster at {settings.ray_address}" if settings.ray_address else "a local Ray instance"
        raise TrainingError(f"could not start {where}: {type(exc).__name__}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _artifact_root(settings: Settings) -> Any:
    return settings.artifact_root if settings.tracking_uri.startswith("sqlite:") else None
