"""Job metrics: the textfile a job leaves (also after a crash), the Pushgateway push, and two jobs on one home."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from minivess.observability.job_metrics import (
    METRIC_NAMES,
    METRICS,
    JobMetrics,
    MetricsSearchObserver,
    MetricsTrainingObserver,
)
from minivess.pipelines.search.engine import NullSearchObserver
from minivess.pipelines.training.events import NullObserver
from minivess.settings import get_settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition text: (name, labels) → value."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def _train(run_id: str, epochs: list[dict[str, float]], *, crash: bool = False) -> Path:
    metrics = JobMetrics("train", get_settings())
    observer = MetricsTrainingObserver(NullObserver(), metrics)
    with metrics:
        observer.run_started(run_id, 1, 3)
        for epoch, values in enumerate(epochs, start=1):
            observer.epoch_started(epoch, 2)
            observer.step_finished(epoch, 1, 0.9)
            observer.epoch_finished(epoch, values)
        if crash:
            raise RuntimeError("out of memory")
        observer.run_finished(run_id, "FINISHED", "max_epochs")
    assert metrics.path is not None
    return metrics.path


def test_a_training_leaves_its_textfile_with_the_values(minivess_home: Path) -> None:
    before = time.time()
    path = _train(
        "run-abc",
        [{"train_loss": 0.5, "lr": 1e-3, "epoch_seconds": 2.0}, {"train_loss": 0.25, "val_dice": 0.7, "lr": 1e-3}],
    )
    assert path == minivess_home / "metrics" / "train-run-abc.prom"
    found = samples(path.read_text())
    at = {"job": "train", "instance": "run-abc"}
    assert value(found, "minivess_train_epochs_total", **at) == 2
    assert value(found, "minivess_train_last_epoch", **at) == 2
    assert value(found, "minivess_train_planned_epochs", **at) == 3
    assert value(found, "minivess_train_last_epoch_loss", **at) == 0.25
    assert value(found, "minivess_train_last_val_dice", **at) == 0.7
    assert value(found, "minivess_train_epoch_seconds", **at) == 2.0
    assert value(found, "minivess_job_status", **at) == 0
    assert value(found, "minivess_job_running", **at) == 0
    assert before <= value(found, "minivess_job_last_success_timestamp_seconds", **at) <= time.time()
    assert value(found, "minivess_job_duration_seconds", **at) >= 0
    assert {name for name, _ in found} - {"minivess_train_epochs_created"} <= METRIC_NAMES
    assert not list(path.parent.glob("*.prom.*")), "no temporary file is left behind"


def test_the_file_is_written_after_each_epoch_while_the_job_runs(minivess_home: Path) -> None:
    metrics = JobMetrics("train", get_settings())
    observer = MetricsTrainingObserver(NullObserver(), metrics)
    with metrics:
        assert metrics.path is None  # the run id is not known yet: nothing to name the file after
        observer.run_started("run-live", 1, 5)
        observer.epoch_finished(1, {"train_loss": 0.8})
        assert metrics.path is not None
        found = samples(metrics.path.read_text())
        at = {"job": "train", "instance": "run-live"}
        assert value(found, "minivess_train_epochs_total", **at) == 1
        assert value(found, "minivess_job_running", **at) == 1


def test_a_crashed_training_leaves_status_failed_and_its_last_epoch() -> None:
    with pytest.raises(RuntimeError, match="out of memory"):
        _train("run-crash", [{"train_loss": 0.5}], crash=True)
    path = get_settings().home_dir / "metrics" / "train-run-crash.prom"
    found = samples(path.read_text())
    at = {"job": "train", "instance": "run-crash"}
    assert value(found, "minivess_job_status", **at) == 1
    assert value(found, "minivess_job_running", **at) == 0
    assert value(found, "minivess_train_last_epoch", **at) == 1
    assert value(found, "minivess_job_last_success_timestamp_seconds", **at) == 0  # never succeeded


def test_a_resumed_run_counts_the_epochs_before_it() -> None:
    metrics = JobMetrics("train", get_settings())
    MetricsTrainingObserver(NullObserver(), metrics).run_started("run-resumed", 4, 6)
    assert metrics.value("minivess_train_epochs_total") == 3
    assert metrics.value("minivess_train_last_epoch") == 3


def test_a_failed_run_keeps_the_last_success_of_the_same_instance() -> None:
    settings = get_settings()
    with JobMetrics("evals", settings, "planner") as first:
        first.inc("minivess_evals_cases_total", 4)
    succeeded = first.value("minivess_job_last_success_timestamp_seconds")
    with pytest.raises(ValueError), JobMetrics("evals", settings, "planner"):
        raise ValueError("the suite broke")
    found = samples((settings.home_dir / "metrics" / "evals-planner.prom").read_text())
    at = {"job": "evals", "instance": "planner"}
    assert value(found, "minivess_job_status", **at) == 1
    assert value(found, "minivess_job_last_success_timestamp_seconds", **at) == succeeded


def test_only_the_job_s_own_metrics_can_be_set() -> None:
    metrics = JobMetrics("sync", get_settings(), "warehouse")
    with pytest.raises(ValueError, match="not a metric of the sync job"):
        metrics.inc("minivess_train_epochs_total")
    with pytest.raises(ValueError, match="unknown job kind"):
        JobMetrics("deploy", get_settings())  # type: ignore[arg-type]


def test_search_trials_by_state_with_the_id_from_the_created_note() -> None:
    metrics = JobMetrics("search", get_settings())
    observer = MetricsSearchObserver(NullSearchObserver(), metrics)
    observer.note("planning from 3 past runs")
    assert metrics.instance is None
    observer.note("search 20250101-120000-ab12 created (parent run 0f0f).")
    assert metrics.instance == "20250101-120000-ab12"
    for number, state, score in [(0, "COMPLETE", 0.4), (1, "COMPLETE", 0.6), (2, "FAIL", None)]:
        observer.trial_finished(number, state, score, "")
    assert metrics.path is not None
    found = samples(metrics.path.read_text())
    at = {"job": "search", "instance": "20250101-120000-ab12"}
    assert value(found, "minivess_search_trials_total", state="completed", **at) == 2
    assert value(found, "minivess_search_trials_total", state="failed", **at) == 1
    assert value(found, "minivess_search_trials_total", state="pruned", **at) == 0
    assert value(found, "minivess_search_best_score", **at) == 0.6
    # the trial table knows better (an ASHA-stopped trial is PRUNED there): counts follow it, even downwards
    observer.record_trials(["COMPLETE", "PRUNED", "FAIL", "RUNNING"], [0.6])
    assert metrics.value("minivess_search_trials_total", state="completed") == 1
    assert metrics.value("minivess_search_trials_total", state="pruned") == 1
    assert metrics.value("minivess_search_trials_total", state="failed") == 1


def test_the_created_note_is_the_one_workflow_start_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search id comes from workflow.start's note: this fails when that message changes."""
    from minivess.pipelines.search import engine, workflow

    record = SimpleNamespace(search_id="20250101-120000-cd34", parent_run_id="0f0f")
    monkeypatch.setattr(engine, "create_search", lambda spec, plan, settings: record)
    monkeypatch.setattr(engine, "drive", lambda search_id, settings, observer: record)
    monkeypatch.setattr(workflow, "finish", lambda rec, settings: rec)
    metrics = JobMetrics("search", get_settings())
    observer = MetricsSearchObserver(NullSearchObserver(), metrics)
    workflow.start(SimpleNamespace(), SimpleNamespace(), observer, SimpleNamespace(reasoning=[]))  # type: ignore[arg-type]
    assert metrics.instance == "20250101-120000-cd34"


# -- Pushgateway --------------------------------------------------------------------------------------------------
@dataclass
class Pushed:
    method: str
    path: str
    body: str


class FakePushgateway:
    """A tiny HTTP server recording PUT/POST bodies, answering 200 like a Pushgateway."""

    def __init__(self) -> None:
        self.pushed: list[Pushed] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                self._record()

            def do_POST(self) -> None:
                self._record()

            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                fake.pushed.append(Pushed(self.command, self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pushgateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePushgateway]:
    fake = FakePushgateway()
    monkeypatch.setenv("MINIVESS_PUSHGATEWAY_URL", fake.url)
    yield fake
    fake.close()


def test_metrics_are_pushed_when_a_pushgateway_is_set(pushgateway: FakePushgateway) -> None:
    path = _train("run-push", [{"train_loss": 0.5}])
    assert path.is_file(), "the textfile is written too"
    assert pushgateway.pushed and {p.method for p in pushgateway.pushed} == {"PUT"}
    assert {p.path for p in pushgateway.pushed} == {"/metrics/job/train/instance/run-push"}
    last = samples(pushgateway.pushed[-1].body)
    assert last[("minivess_train_epochs_total", frozenset())] == 1
    assert last[("minivess_job_status", frozenset())] == 0
    assert last[("minivess_job_last_success_timestamp_seconds", frozenset())] > 0
    # the gateway adds job and instance from the grouping key: the pushed samples must not carry them
    assert all(not dict(labels).keys() & {"job", "instance"} for _, labels in last)


def test_an_unreachable_pushgateway_warns_once_and_the_job_succeeds(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = f"http://ops:hunter2@127.0.0.1:{closed_port}"  # pragma: allowlist secret (a fake basic-auth URL)
    monkeypatch.setenv("MINIVESS_PUSHGATEWAY_URL", gateway)
    with caplog.at_level(logging.DEBUG, logger="minivess.observability.job_metrics"):
        path = _train("run-nopush", [{"train_loss": 0.5}, {"train_loss": 0.4}])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Pushgateway" in warnings[0].getMessage()
    assert f"***@127.0.0.1:{closed_port}" in warnings[0].getMessage()
    assert "hunter2" not in caplog.text  # the gateway's password never reaches the logs
    found = samples(path.read_text())
    assert value(found, "minivess_job_status", job="train", instance="run-nopush") == 0


# -- two processes ------------------------------------------------------------------------------------------------
WRITER = """
import sys
from minivess.observability.job_metrics import JobMetrics, MetricsTrainingObserver
from minivess.pipelines.training.events import NullObserver
from minivess.settings import get_settings

metrics = JobMetrics("train", get_settings())
observer = MetricsTrainingObserver(NullObserver(), metrics)
with metrics:
    observer.run_started(sys.argv[1], 1, 40)
    for epoch in range(1, 41):
        observer.epoch_finished(epoch, {"train_loss": 1.0 / epoch})
"""


def test_two_processes_on_one_home_both_leave_their_file(minivess_home: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, run], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for run in ("run-one", "run-two")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    folder = minivess_home / "metrics"
    assert sorted(p.name for p in folder.iterdir()) == ["train-run-one.prom", "train-run-two.prom"]
    for run in ("run-one", "run-two"):
        found = samples((folder / f"train-{run}.prom").read_text())
        assert value(found, "minivess_train_epochs_total", job="train", instance=run) == 40


def test_every_metric_is_named_for_minivess() -> None:
    assert all(spec.name.startswith("minivess_") for spec in METRICS)
    assert all(spec.name.endswith("_total") == (spec.type == "counter") for spec in METRICS)
