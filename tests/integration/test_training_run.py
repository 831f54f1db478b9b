"""SegResNet trains on tiny synthetic data; the MLflow run holds everything; a killed run resumes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from minivess.configs.experiment import InferenceConfig
from minivess.configs.loading import load_experiment
from minivess.pipelines.data.splits import Splits
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.registry import download_version, register_run_model, resolve_version
from minivess.pipelines.training import evaluation, runs
from minivess.pipelines.training.checkpoint import LAST, load_checkpoint
from minivess.pipelines.training.inference import load_exported_model, predict_logits
from minivess.settings import get_settings
from tests.integration.conftest import tiny_overrides

pytestmark = pytest.mark.integration


def runs_splits(run_dir: Path) -> Splits:
    return Splits.load(run_dir / runs.SPLITS_FILE)


def _history(client: MlflowClient, run_id: str, metric: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, metric))


def test_two_epochs_are_fully_recorded(tiny_synthetic: Path) -> None:
    settings = get_settings()
    result = runs.train(load_experiment(None, tiny_overrides(tiny_synthetic)), settings)
    client = MlflowClient(settings.tracking_uri)
    run = client.get_run(result.run_id)

    assert run.info.status == "FINISHED"
    for metric in (*naming.VAL_METRICS, naming.METRIC_TRAIN_LOSS):
        assert _history(client, result.run_id, metric) == [1, 2], metric
    assert 0.0 <= run.data.metrics["val_dice"] <= 1.0
    assert run.data.params["model.name"] == "segresnet"
    assert run.data.params["trainer.epochs"] == "2"
    assert run.data.tags[naming.TAG_MODEL_FAMILY] == "segresnet"
    assert run.data.tags[naming.TAG_LOSS] == "dice_ce"
    assert len(run.data.tags[naming.TAG_DATA_VERSION]) == 12

    artifacts = {
        a.path
        for folder in ("checkpoints", "figures", "model", "run")
        for a in client.list_artifacts(result.run_id, folder)
    }
    assert {"checkpoints/best.pt", "checkpoints/last.pt", "model/model.pt", "model/model.json"} <= artifacts
    assert {
        "figures/learning_curves.png",
        "figures/val_prediction_mip.png",
        "run/config.yaml",
        "run/splits.json",
    } <= artifacts
    png = Path(client.download_artifacts(result.run_id, "figures/val_prediction_mip.png", str(settings.home_dir)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # evaluate: per-volume metrics on the test split, summary logged back to the same run
    report = evaluation.evaluate_run(result.run_id, settings, split="test")
    assert [vid for vid, _ in report.per_volume] == runs_splits(result.run_dir).test
    assert set(report.summary) == {
        *(f"test_{m}" for m in ("dice", "cldice", "nsd", "hd95")),
        *(f"test_{m}" for m in naming.CALIBRATION_METRICS),  # the probabilities' calibration (docs/uncertainty.md)
    }
    logged = client.get_run(result.run_id).data.metrics
    assert logged["test_dice"] == pytest.approx(report.summary["test_dice"])

    # predict: same grid, affine and spacing as the input; a binary mask
    source = tiny_synthetic / "raw" / "synth_000.nii.gz"
    out = evaluation.predict_file(result.run_id, source, settings.home_dir / "pred.nii.gz", settings).mask_path
    pred, image = nib.load(out), nib.load(source)
    assert pred.shape == image.shape
    assert np.allclose(pred.affine, image.affine)
    assert pred.header.get_zooms() == image.header.get_zooms()
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1}

    # a run whose local folder is gone is downloaded from MLflow once, then served from the cache
    shutil.rmtree(result.run_dir)
    first = evaluation.run_files(client, result.run_id, settings)
    assert (
        evaluation.run_files(client, result.run_id, settings)
        == first
        == settings.home_dir / "downloads" / result.run_id
    )
    assert (first / "model" / "model.json").is_file() and (first / "config.yaml").is_file()
    assert not list(settings.home_dir.glob(".run-*"))

    # registry: register, alias champion, fetch by alias, rebuild and run on another input size
    version = register_run_model(client, result.run_id, "test-model", alias="champion")
    fetched = resolve_version(client, "test-model", "champion")
    assert fetched.version == version.version and fetched.run_id == result.run_id
    folder = download_version(client, fetched, settings.home_dir / "registry-download")
    model, spec = load_exported_model(folder, torch.device("cpu"))
    with torch.no_grad():
        logits = predict_logits(
            model, torch.rand(1, 1, 40, 36, 12), spec.patch_size, InferenceConfig(), torch.device("cpu")
        )
    assert logits.shape == (1, 2, 40, 36, 12)


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "minivess", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_for_first_epoch(runs_dir: Path, proc: subprocess.Popen[bytes], timeout: float = 240.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for checkpoint in runs_dir.glob(f"*/{LAST}"):
            return checkpoint
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"training exited early ({proc.returncode}):\n{out}")
        time.sleep(0.1)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
def test_killed_run_resumes_in_the_same_mlflow_run(tiny_synthetic: Path, minivess_home: Path) -> None:
    env = {**os.environ, "MINIVESS_HOME": str(minivess_home), "PYTHONUNBUFFERED": "1"}
    args = ["train", *[a for o in tiny_overrides(tiny_synthetic, epochs=4) for a in ("--set", o)]]
    proc = _run_cli(args, env)
    checkpoint = _wait_for_first_epoch(minivess_home / "runs", proc)
    os.kill(proc.pid, signal.SIGKILL)  # mid-epoch 2 (or later): no chance to clean up
    proc.wait(timeout=30)
    run_id = checkpoint.parent.name
    _, progress, _ = load_checkpoint(checkpoint)
    assert progress.epoch < 4, "the run finished before it could be killed"

    client = MlflowClient(get_settings().tracking_uri)
    assert client.get_run(run_id).info.status == "RUNNING"

    resumed = subprocess.run(
        [sys.executable, "-m", "minivess", "train", "--resume", run_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming" in resumed.stdout

    experiment = client.get_experiment_by_name(naming.DEFAULT_EXPERIMENT)
    assert experiment is not None
    all_runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in all_runs] == [run_id]  # no duplicate run
    assert client.get_run(run_id).info.status == "FINISHED"
    for metric in (naming.METRIC_TRAIN_LOSS, naming.METRIC_VAL_DICE):
        assert _history(client, run_id, metric) == [1, 2, 3, 4], metric  # no lost, no repeated epoch

    again = subprocess.run(
        [sys.executable, "-m", "minivess", "train", "--resume", run_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 2 and "already FINISHED" in again.stderr
