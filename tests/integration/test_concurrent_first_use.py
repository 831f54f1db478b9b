"""Six processes started at once on a fresh home: every store is created once, every request completes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from minivess.pipelines.tracking import naming
from minivess.settings import get_settings
from tests.integration.conftest import tiny_overrides

pytestmark = pytest.mark.integration


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "minivess", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def test_concurrent_first_use_of_a_fresh_home_loses_nothing(tiny_synthetic: Path, minivess_home: Path) -> None:
    assert not minivess_home.exists()
    train = ["train", *(arg for item in tiny_overrides(tiny_synthetic, epochs=1) for arg in ("--set", item))]
    commands = {
        "train-1": [*train, "--set", "trainer.seed=1"],
        "train-2": [*train, "--set", "trainer.seed=2"],
        "leaderboard": ["runs", "leaderboard"],  # MLflow store + DuckDB warehouse
        "sync": ["runs", "sync"],  # the warehouse's writer
        "threads": ["threads"],  # checkpoint DB
        "ask": ["ask", "show the leaderboard", "--yes"],  # checkpoints, traces, warehouse, MLflow
    }
    processes = {name: _start(*args) for name, args in commands.items()}
    results = {name: (p.wait(timeout=300), *p.communicate()) for name, p in processes.items()}

    for name, (code, out, err) in results.items():
        assert code == 0, f"{name} exited {code}\n{out}\n{err}"
        assert "Traceback" not in err, f"{name}:\n{err}"
    client = MlflowClient(get_settings().tracking_uri)
    experiment = client.get_experiment_by_name(naming.DEFAULT_EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.params["trainer.seed"] for r in runs} == {"1", "2"}
    printed = results["train-1"][1] + results["train-2"][1]
    assert all(r.info.run_id in printed for r in runs)  # each process reported its own run
