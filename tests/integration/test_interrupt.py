"""Ctrl-C stops what the agent started: the training run is KILLED within seconds, the thread and the trace say so."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from minivess.graphs.session import ChatSession
from minivess.observability import TraceStore
from minivess.observability.store import STORE_FILENAME
from minivess.pipelines.tracking import naming
from minivess.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir(tiny_synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    shutil.copytree(tiny_synthetic, root / "synthetic")
    monkeypatch.setenv("MINIVESS_DATA_DIR", str(root))
    monkeypatch.setenv("MINIVESS_MAX_COMPUTE_MINUTES", "100000")
    return root


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_epochs(process: subprocess.Popen[str], epochs: int, timeout_s: float) -> None:
    """Block until the run has logged `epochs` epochs (read from MLflow, not from the progress bar)."""
    deadline = time.monotonic() + timeout_s
    client = MlflowClient(get_settings().tracking_uri)
    while time.monotonic() < deadline:
        assert process.poll() is None, "the agent ended before it was interrupted"
        experiment = client.get_experiment_by_name(naming.DEFAULT_EXPERIMENT)
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        if runs and len(client.get_metric_history(runs[0].info.run_id, naming.METRIC_TRAIN_LOSS)) >= epochs:
            return
        time.sleep(0.5)
    raise AssertionError(f"no {epochs} epoch(s) logged within {timeout_s} s")


def test_ctrl_c_during_an_agent_training_kills_the_run_and_says_so(data_dir: Path) -> None:
    request = "train a segresnet for 400 epochs on the synthetic data"
    process = subprocess.Popen(
        [sys.executable, "-m", "minivess", "ask", request, "--yes", "--thread", "interrupted"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        # An ignored SIGINT is inherited across exec (e.g. when the suite itself runs as a background job);
        # the child must see Ctrl-C as a user's terminal would deliver it.
        preexec_fn=_default_sigint,
    )
    try:
        _wait_for_epochs(process, 1, timeout_s=240)
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    stopped_within = time.monotonic() - interrupted_at
    assert process.returncode == 130, stdout + stderr
    assert stopped_within < 30, f"took {stopped_within:.1f} s to stop"
    assert "Stopped by Ctrl-C" in stderr and "KILLED" in stderr
    client = MlflowClient(get_settings().tracking_uri)
    experiment = client.get_experiment_by_name(naming.DEFAULT_EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "KILLED"
    assert len(client.get_metric_history(run.info.run_id, naming.METRIC_TRAIN_LOSS)) < 400
    # The thread records what was stopped: the next turn can refer to the killed run.
    session = ChatSession(get_settings(), thread_id="interrupted")
    values = session.graph.get_state(session.config).values
    messages = values["messages"]
    assert run.info.run_id in messages[-2]["content"] and "KILLED" in messages[-2]["content"]
    assert messages[-1]["role"] == "assistant" and "Stopped by Ctrl-C" in messages[-1]["content"]
    # …and so does its trace (flushed before the process exited).
    store = TraceStore(get_settings().home_dir / STORE_FILENAME)
    (trace,) = store.list_traces(limit=5)
    root = next(o for o in store.observations(trace.trace_id) if o.parent_id is None)
    assert root.level == "WARNING" and "Stopped by Ctrl-C" in (root.output or "")
