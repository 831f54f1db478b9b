"""Prometheus metrics of minivess's batch jobs (train, search, sync, evals): a textfile per run, optionally pushed.

Each job owns a `JobMetrics` with its own registry. It is written in the node_exporter textfile format to
``HOME/metrics/<job>-<instance>.prom`` (atomically, so concurrent jobs and a scraping exporter never see half a
file) when the job starts, after every epoch or trial, and when it ends; with ``MINIVESS_PUSHGATEWAY_URL`` the
same metrics also go to a Pushgateway. Metrics never fail a job: a failed write or push logs one warning.

prometheus_client is imported only when a `JobMetrics` is built: `minivess --help` does not load it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

# The engines' observer protocols, restated structurally once (observability imports nothing from pipelines).
from minivess.observability.search import _SearchObserver
from minivess.observability.training import ForwardingObserver
from minivess.observability.training import _Observer as _TrainingObserver

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from minivess.settings import Settings

logger = logging.getLogger(__name__)

JobKind = Literal["train", "search", "sync", "evals"]
JOB_KINDS: tuple[JobKind, ...] = ("train", "search", "sync", "evals")
METRICS_DIR = "metrics"
PUSH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class MetricSpec:
    """One metric as exposed (counters keep their ``_total``), and the jobs that carry it (empty: every job)."""

    name: str
    type: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...] = ()
    jobs: tuple[JobKind, ...] = ()


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("minivess_job_start_timestamp_seconds", "gauge", "Unix time the job started."),
    MetricSpec("minivess_job_last_success_timestamp_seconds", "gauge", "Unix time the job last ended successfully."),
    MetricSpec("minivess_job_duration_seconds", "gauge", "Seconds the job has run (final once it ended)."),
    MetricSpec("minivess_job_status", "gauge", "0 while running or after a success, 1 after a failure."),
    MetricSpec("minivess_job_running", "gauge", "1 while the job runs (left at 1 by a killed process)."),
    MetricSpec("minivess_train_epochs_total", "counter", "Epochs finished in the run.", jobs=("train",)),
    MetricSpec("minivess_train_planned_epochs", "gauge", "Most epochs the run may train.", jobs=("train",)),
    MetricSpec("minivess_train_last_epoch", "gauge", "Number of the last finished epoch.", jobs=("train",)),
    MetricSpec("minivess_train_last_epoch_loss", "gauge", "Training loss of the last epoch.", jobs=("train",)),
    MetricSpec(
        "minivess_train_last_val_dice", "gauge", "Validation Dice of the last validated epoch.", jobs=("train",)
    ),
    MetricSpec("minivess_train_epoch_seconds", "gauge", "Wall seconds of the last epoch.", jobs=("train",)),
    MetricSpec(
        "minivess_search_trials_total", "counter", "Finished trials by state.", labels=("state",), jobs=("search",)
    ),
    MetricSpec("minivess_search_best_score", "gauge", "Best trial score so far (val clDice).", jobs=("search",)),
    MetricSpec(
        "minivess_sync_rows_total", "counter", "Warehouse rows synced by kind.", labels=("kind",), jobs=("sync",)
    ),
    MetricSpec("minivess_sync_runs", "gauge", "Runs in the warehouse after the sync.", jobs=("sync",)),
    MetricSpec("minivess_evals_cases_total", "counter", "Eval cases run in the suite.", jobs=("evals",)),
    MetricSpec("minivess_evals_case_errors_total", "counter", "Eval cases that raised.", jobs=("evals",)),
    MetricSpec("minivess_evals_score", "gauge", "Mean score of a scorer over the suite.", ("scorer",), ("evals",)),
)
METRIC_NAMES: frozenset[str] = frozenset(spec.name for spec in METRICS)
_SPECS = {spec.name: spec for spec in METRICS}

TRIAL_STATES = {"COMPLETE": "completed", "FAIL": "failed", "PRUNED": "pruned"}  # engine state → label
SYNC_KINDS = ("runs_added", "runs_updated", "runs_removed", "metric_rows")
# workflow.start announces the search it created with this note (search ids are time-hex, e.g. 20250101-120000-ab12)
_SEARCH_CREATED = re.compile(r"^search (\S+) created\b")


def metrics_dir(settings: Settings) -> Path:
    """The folder node_exporter's textfile collector should read: HOME/metrics."""
    return settings.home_dir / METRICS_DIR


def _file_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "_"


class JobMetrics:
    """The metrics of one job run; use as a context manager so the end (success or failure) is recorded.

    Args:
        job: Which job: train, search, sync or evals.
        settings: Home (the textfile folder) and ``pushgateway_url``.
        instance: Which run of the job (run id, search id, suite …); set later with `set_instance` when only
            known once the job has begun. Nothing is written while it is unknown.

    Raises:
        ValueError: an unknown job kind.
    """

    def __init__(self, job: JobKind, settings: Settings, instance: str | None = None) -> None:
        if job not in JOB_KINDS:
            raise ValueError(f"unknown job kind {job!r}; choose one of {', '.join(JOB_KINDS)}.")
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.job, self.settings = job, settings
        self.instance: str | None = None
        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        for spec in METRICS:
            if not spec.jobs or job in spec.jobs:
                kind = Counter if spec.type == "counter" else Gauge
                self._metrics[spec.name] = kind(spec.name, spec.help, spec.labels, registry=self.registry)
        self._started = time.monotonic()
        self._warned: set[str] = set()
        self._push_failed = False
        self.set("minivess_job_start_timestamp_seconds", time.time())
        self.set("minivess_job_running", 1)
        self.set("minivess_job_status", 0)
        if instance is not None:
            self.set_instance(instance)

    @property
    def path(self) -> Path | None:
        """The textfile of this run, once its instance is known."""
        if self.instance is None:
            return None
        return metrics_dir(self.settings) / f"{self.job}-{_file_safe(self.instance)}.prom"

    def set_instance(self, instance: str) -> None:
        """Name the run; the last success of an earlier run of the same instance is carried over."""
        if instance == self.instance:
            return
        self.instance = instance
        previous = self._previous_success()
        if previous is not None:
            self.set("minivess_job_last_success_timestamp_seconds", previous)

    # -- values -------------------------------------------------------------------------------------------------
    def _child(self, name: str, labels: dict[str, str]) -> Any:
        metric = self._metrics.get(name)
        if metric is None:
            raise ValueError(f"{name} is not a metric of the {self.job} job; see job_metrics.METRICS.")
        return metric.labels(**labels) if labels else metric

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add to a counter of this job."""
        self._child(name, labels).inc(amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge of this job."""
        self._child(name, labels).set(value)

    def set_count(self, name: str, value: float, **labels: str) -> None:
        """Make a labelled counter read ``value`` (a total recounted from the job's own records)."""
        if not labels:
            raise ValueError(f"set_count needs the labels of {name}: an unlabelled counter only goes up.")
        self._child(name, labels)
        self._metrics[name].remove(*(labels[label] for label in _SPECS[name].labels))
        self._child(name, labels).inc(value)

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of a sample of this registry (``None`` when absent), for callers and tests."""
        found = self.registry.get_sample_value(name, labels or None)
        return None if found is None else float(found)

    # -- lifecycle ----------------------------------------------------------------------------------------------
    def __enter__(self) -> JobMetrics:
        self.write()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self.finish(ok=exc_type is None)

    def finish(self, *, ok: bool) -> None:
        """Record the end: status, duration, last success (when ok), then write and push."""
        self.set("minivess_job_running", 0)
        self.set("minivess_job_status", 0 if ok else 1)
        if ok:
            self.set("minivess_job_last_success_timestamp_seconds", time.time())
        self.write(final=True)

    def write(self, *, final: bool = False) -> None:
        """Write the textfile (and push when a Pushgateway is set); never raises.

        After a failed push only the final write pushes again: an unreachable gateway costs one timeout per
        job end, not one per epoch.
        """
        path = self.path
        if path is None:
            return
        self.set("minivess_job_duration_seconds", time.monotonic() - self._started)
        try:
            from prometheus_client import write_to_textfile

            path.parent.mkdir(parents=True, exist_ok=True)
            write_to_textfile(str(path), _Labelled(self.registry, self._labels()))
        except Exception as exc:  # metrics must not fail the job they describe
            self._warn_once("write", "could not write job metrics to %s: %s", path, exc)
        url = self.settings.pushgateway_url
        if url and (final or not self._push_failed):
            self._push(url)

    def _push(self, url: str) -> None:
        from prometheus_client import push_to_gateway

        try:
            push_to_gateway(
                url,
                job=self.job,
                grouping_key={"instance": self.instance},
                registry=self.registry,
                timeout=PUSH_TIMEOUT_S,
            )
        except Exception as exc:  # an unreachable or refusing gateway must not fail the job
            self._push_failed = True
            self._warn_once("push", "could not push job metrics to the Pushgateway %s: %s", _without_userinfo(url), exc)

    def _warn_once(self, what: str, message: str, *args: object) -> None:
        if what in self._warned:
            logger.debug(message, *args)
            return
        self._warned.add(what)
        logger.warning(message, *args)

    def _labels(self) -> dict[str, str]:
        return {"job": self.job, "instance": self.instance or ""}

    def _previous_success(self) -> float | None:
        path = self.path
        if path is None or not path.is_file():
            return None
        from prometheus_client.parser import text_string_to_metric_families

        try:
            for family in text_string_to_metric_families(path.read_text()):
                for sample in family.samples:
                    if sample.name == "minivess_job_last_success_timestamp_seconds":
                        return float(sample.value)
        except (OSError, ValueError) as exc:  # a damaged file only loses the carried-over timestamp
            logger.debug("could not read %s: %s", path, exc)
        return None


class _Labelled:
    """The registry as the textfile shows it: every sample with the job and instance labels.

    A Pushgateway adds those from the grouping key (pushed metrics must not carry them), so the registry
    itself stays without them.
    """

    def __init__(self, registry: CollectorRegistry, labels: dict[str, str]) -> None:
        self.registry, self.labels = registry, labels

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.metrics_core import Metric

        for family in self.registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(
                    sample.name, {**self.labels, **sample.labels}, sample.value, sample.timestamp, sample.exemplar
                )
            yield labelled


# -- training -----------------------------------------------------------------------------------------------------
class MetricsTrainingObserver(ForwardingObserver):
    """Forwards every call to `inner` and keeps a train job's metrics, written after every epoch.

    The run id becomes the instance at ``run_started``; the end (status, last success) is recorded by the
    `JobMetrics` context around the training call, which also sees the exceptions the engine raises.

    Args:
        inner: The observer the engine would otherwise use (progress bar, tracer …).
        metrics: A ``JobMetrics("train", …)``.
    """

    def __init__(self, inner: _TrainingObserver, metrics: JobMetrics) -> None:
        super().__init__(inner)
        self.metrics = metrics

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        self.inner.run_started(run_id, start_epoch, epochs)
        self.metrics.set_instance(run_id)
        if self.metrics.value("minivess_train_epochs_total") == 0 and start_epoch > 1:  # a resumed run
            self.metrics.inc("minivess_train_epochs_total", start_epoch - 1)
            self.metrics.set("minivess_train_last_epoch", start_epoch - 1)
        self.metrics.set("minivess_train_planned_epochs", epochs)
        self.metrics.write()

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        self.inner.epoch_finished(epoch, metrics)
        self.metrics.inc("minivess_train_epochs_total")
        self.metrics.set("minivess_train_last_epoch", epoch)
        for key, name in (
            ("train_loss", "minivess_train_last_epoch_loss"),  # pipelines.tracking.naming's metric keys
            ("val_dice", "minivess_train_last_val_dice"),
            ("epoch_seconds", "minivess_train_epoch_seconds"),
        ):
            if key in metrics:
                self.metrics.set(name, metrics[key])
        self.metrics.write()


# -- search -------------------------------------------------------------------------------------------------------
class MetricsSearchObserver:
    """Forwards every call to `inner`, counts finished trials by state and writes after each trial.

    Without an instance yet (``search start``), the search id is taken from the note that announces the
    created search. `record_trials` then sets the totals from the search's own trial table at the end.

    Args:
        inner: The observer the engine would otherwise use.
        metrics: A ``JobMetrics("search", …)``.
    """

    def __init__(self, inner: _SearchObserver, metrics: JobMetrics) -> None:
        self.inner, self.metrics = inner, metrics
        for label in TRIAL_STATES.values():
            metrics.inc("minivess_search_trials_total", 0, state=label)
        self.best: float | None = None

    def note(self, text: str) -> None:
        self.inner.note(text)
        created = _SEARCH_CREATED.match(text)
        if created and self.metrics.instance is None:
            self.metrics.set_instance(created.group(1))
            self.metrics.write()

    def round_started(self, index: int, trials: int, space: Any) -> None:
        self.inner.round_started(index, trials, space)

    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        self.inner.trial_started(number, config)

    def trial_epoch(self, number: int, epoch: int, score: float) -> None:
        self.inner.trial_epoch(number, epoch, score)

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None:
        self.inner.trial_finished(number, state, score, error)
        label = TRIAL_STATES.get(state)
        if label is not None:
            self.metrics.inc("minivess_search_trials_total", state=label)
        if score is not None:
            self._best(score)
        self.metrics.write()

    def record_trials(self, states: Iterable[str], scores: Iterable[float] = ()) -> None:
        """Set the trial counts (and best score) from the search's trial table (engine states)."""
        listed = list(states)
        for state, label in TRIAL_STATES.items():
            self.metrics.set_count("minivess_search_trials_total", sum(s == state for s in listed), state=label)
        for score in scores:
            self._best(score)

    def _best(self, score: float) -> None:
        self.best = score if self.best is None else max(self.best, score)
        self.metrics.set("minivess_search_best_score", self.best)


def _without_userinfo(url: str) -> str:
    """The URL without ``user:password@`` (a gateway behind basic auth): secrets never reach the logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
