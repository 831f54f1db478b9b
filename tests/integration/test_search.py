"""Model search end to end on real Ray Tune + Optuna: the CLI, kill -9 of the driver and resume, a Ray cluster."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from minivess.pipelines.search import record as records
from minivess.pipelines.search import trial_state, workflow
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import client_for
from minivess.pipelines.tracking.registry import resolve_version
from minivess.settings import get_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration]

MINIVESS = [sys.executable, "-m", "minivess"]


def tiny_search(data: Path, trials: int, budget: float = 5.0) -> list[str]:
    return [
        "search", "start", "-n", str(trials), "--epochs", "2", "-b", str(budget), "-f", "segresnet",
        "--dataset", str(data), "--set", "data.patch_size=[32,32,16]", "--set", "model.options.init_filters=4",
        "--set", "trainer.batch_size=3",
    ]  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "MINIVESS_TRACING": "off", **extra}


def _children(settings, search_id: str) -> list:  # type: ignore[no-untyped-def]
    client = client_for(settings.tracking_uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids, filter_string=f"tags.`{naming.TAG_SEARCH_ID}` = '{search_id}'"))


def _assert_consistent(settings, record, trials: int) -> None:  # type: ignore[no-untyped-def]
    """Study and MLflow agree: `trials` counted trials, one finished run per completed trial, nothing RUNNING."""
    study = trial_state.load_study(settings, record)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == trials
    runs = [r for r in _children(settings, record.search_id) if r.data.tags[naming.TAG_RUN_KIND] == "train"]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    numbers = [int(r.data.tags[naming.TAG_SEARCH_TRIAL]) for r in finished]
    assert sorted(numbers) == sorted(t.number for t in complete)  # no trial trained twice, none lost
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert all(r.data.tags[naming.TAG_PARENT_RUN] == record.parent_run_id for r in runs)
    assert client_for(settings.tracking_uri).get_run(record.parent_run_id).info.status == "FINISHED"


def test_search_cli_runs_trials_as_child_runs_reports_and_names_a_challenger(tiny_synthetic: Path) -> None:
    done = subprocess.run(
        [*MINIVESS, *tiny_search(tiny_synthetic, 3)], env=_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    settings = get_settings()
    record = records.load(settings, "last")
    assert record.status == "finished" and record.sessions == 1
    _assert_consistent(settings, record, 3)
    assert record.spent_seconds <= 5 * 60
    report = records.search_dir(settings, record.search_id) / records.REPORT_FILE
    assert "best so far" in report.read_text() and record.search_id in report.read_text()
    client = client_for(settings.tracking_uri)
    artifacts = [a.path for a in client.list_artifacts(record.parent_run_id, "search")]
    assert artifacts == ["search/report.html"]
    assert record.promotion["outcome"] == "challenger"  # no champion yet
    challenger = resolve_version(client, naming.DEFAULT_REGISTERED_MODEL, "challenger")
    assert challenger.run_id == workflow.summary(record, settings).best_run_id
    status = subprocess.run([*MINIVESS, "search", "status"], env=_env(), capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and record.search_id in status.stdout and "finished" in status.stdout


def test_kill_9_of_the_driver_then_resume_loses_and_repeats_nothing(tiny_synthetic: Path) -> None:
    settings = get_settings()
    driver = subprocess.Popen(
        [*MINIVESS, *tiny_search(tiny_synthetic, 4)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        finished: list = []
        while time.monotonic() < deadline and driver.poll() is None:
            ids = records.list_ids(settings) if records.searches_dir(settings).is_dir() else []
            if ids and records.load(settings, ids[-1]).parent_run_id:
                finished = [
                    r
                    for r in _children(settings, ids[-1])
                    if r.info.status == "FINISHED" and r.data.tags.get(naming.TAG_RUN_KIND) == "train"
                ]
                if finished:
                    break
            time.sleep(0.5)
        assert finished, "no trial finished before the deadline"
        assert driver.poll() is None, "the search ended before it could be killed"
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            driver.kill()
    record = records.load(settings, "last")
    assert record.status == "running"  # what a crash leaves behind
    kept = {r.info.run_id for r in finished}

    time.sleep(3)  # the killed driver's local Ray shuts itself down
    done = subprocess.run(
        [*MINIVESS, "search", "resume", record.search_id], env=_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    record = records.load(settings, record.search_id)
    assert record.status == "finished" and record.sessions == 2
    _assert_consistent(settings, record, 4)
    still = {r.info.run_id for r in _children(settings, record.search_id) if r.info.status == "FINISHED"}
    assert kept <= still  # trials finished before the kill are kept, not re-run
    assert record.spent_seconds <= 5 * 60 + 60  # the budget, plus at most one trial's grace


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_search_runs_on_an_existing_ray_cluster_through_minivess_ray_address(
    tiny_synthetic: Path, tmp_path: Path
) -> None:
    ray = str(Path(sys.executable).parent / "ray")
    port = _free_port()
    cluster_env = _env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_USAGE_STATS_ENABLED="0")
    started = subprocess.run(
        [ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard=false", "--disable-usage-stats"],
        env=cluster_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        env = {**cluster_env, "MINIVESS_RAY_ADDRESS": f"127.0.0.1:{port}"}
        done = subprocess.run(
            [*MINIVESS, *tiny_search(tiny_synthetic, 2)], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]
        settings = get_settings()
        record = records.load(settings, "last")
        _assert_consistent(settings, record, 2)
        trial_runs = [r for r in _children(settings, record.search_id) if r.data.tags[naming.TAG_RUN_KIND] == "train"]
        # The trials ran on the cluster started above (its GCS port), not on an in-process Ray of the driver.
        assert len(trial_runs) == 2
        assert {r.data.tags["minivess.search.ray_gcs"].rsplit(":", 1)[1] for r in trial_runs} == {str(port)}
    finally:
        subprocess.run([ray, "stop", "--force"], env=cluster_env, capture_output=True, timeout=120)


def test_ctrl_c_stops_the_search_cleanly_and_resume_finishes_it(tiny_synthetic: Path) -> None:
    """Ctrl-C as a terminal sends it (SIGINT to the whole foreground process group, Ray's processes included)."""
    settings = get_settings()
    driver = subprocess.Popen(
        [*MINIVESS, *tiny_search(tiny_synthetic, 3)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and driver.poll() is None:
            ids = records.list_ids(settings) if records.searches_dir(settings).is_dir() else []
            trials = (
                [r for r in _children(settings, ids[-1]) if r.data.tags.get(naming.TAG_RUN_KIND) == "train"]
                if ids
                else []
            )
            if any(r.info.status == "RUNNING" for r in trials):  # a trial trains (the parent runs from the start)
                break
            time.sleep(0.5)
        assert driver.poll() is None, "the search ended before Ctrl-C"
        os.killpg(driver.pid, signal.SIGINT)
        _, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, err[-3000:]
    record = records.load(settings, "last")
    assert record.status == "interrupted", err[-3000:]
    runs = _children(settings, record.search_id)
    assert not [r for r in runs if r.info.status == "RUNNING"]  # nothing left running, the parent included
    done = subprocess.run([*MINIVESS, "search", "resume"], env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_consistent(settings, records.load(settings, record.search_id), 3)


def test_nightly_flags_a_search_on_data_that_drifted_from_the_champions(tiny_synthetic: Path, tmp_path: Path) -> None:
    """`minivess nightly` on shifted data, with a champion trained on the default data: the warning is shown,
    kept in the search's notes and in its report."""
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.data.synthetic import get_preset, write_dataset
    from minivess.pipelines.tracking.registry import register_run_model
    from minivess.pipelines.training import runs
    from tests.integration.conftest import TINY_SHAPE, tiny_overrides

    settings = get_settings()
    champion = runs.train(load_experiment(None, tiny_overrides(tiny_synthetic, epochs=1)), settings)
    client = client_for(settings.tracking_uri)
    register_run_model(client, champion.run_id, naming.DEFAULT_REGISTERED_MODEL, alias="champion")
    shifted = tmp_path / "shifted"
    write_dataset(shifted, n=6, config=get_preset("shifted").model_copy(update={"shape": TINY_SHAPE}), seed=2)
    command = [*MINIVESS, "nightly", *tiny_search(shifted, 1)[2:]]
    done = subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "drift warning:" in done.stdout and "intensity_p1" in done.stdout
    record = records.load(settings, "last")
    [warning] = [note for note in record.notes if note.startswith("drift warning:")]
    assert str(tiny_synthetic.resolve()) in warning and str(shifted) in warning
    report = records.search_dir(settings, record.search_id) / records.REPORT_FILE
    assert "drift warning:" in report.read_text()
