"""Run id prefixes on the command line: evaluate, predict, train --resume and runs compare accept them."""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from minivess.cli.app import app, main
from minivess.errors import TrainingError
from minivess.settings import get_settings
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, build_store, create_runs_with_ids, install_store

TWINS = ["c0ffee01" + "0" * 24, "c0ffee02" + "0" * 24]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoreInfo]:
    path = tmp_path_factory.mktemp("cli-refs") / "mlflow.db"
    info = build_store(path, seed=4)
    create_runs_with_ids(MlflowClient(tracking_uri=info.uri), info.experiment_id, TWINS)
    return path, info


@pytest.fixture
def store(template: tuple[Path, StoreInfo], minivess_home: Path) -> StoreInfo:
    install_store(template[0], minivess_home)
    return template[1]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "220"})


def _error(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 0 and isinstance(result.exception, TrainingError), (result.output, result.exception)
    return str(result.exception)


def test_evaluate_and_predict_resolve_a_unique_prefix(runner: CliRunner, store: StoreInfo, tmp_path: Path) -> None:
    run_id = store.finished[1]
    # The store's runs have no model artifact: getting that far means the prefix named the right run.
    assert f"run {run_id} has no model artifact" in _error(runner, "evaluate", run_id[:8])
    image = tmp_path / "in.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 4), np.float32), np.eye(4)), image)
    assert f"run {run_id} has no model artifact" in _error(
        runner, "predict", run_id[:6], str(image), "-o", str(tmp_path / "out.nii.gz")
    )


def test_an_ambiguous_prefix_lists_the_candidates(runner: CliRunner, store: StoreInfo) -> None:
    message = _error(runner, "evaluate", "c0ffee")
    assert "ambiguous" in message and TWINS[0] in message and TWINS[1] in message


def test_a_too_short_prefix_says_how_long_it_must_be(
    store: StoreInfo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["minivess", "evaluate", store.finished[0][:5]])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "at least 6 characters" in " ".join(capsys.readouterr().err.split())


def test_resume_accepts_a_prefix(runner: CliRunner, store: StoreInfo) -> None:
    run_id = store.running[0]
    message = _error(runner, "train", "--resume", run_id[:8])
    assert f"no local state for run {run_id}" in message and str(get_settings().runs_dir) in message
    assert "ambiguous" in _error(runner, "train", "--resume", "c0ffee")


def test_runs_compare_accepts_prefixes(runner: CliRunner, store: StoreInfo) -> None:
    a, b = store.finished[0], store.finished[1]
    result = runner.invoke(app, ["runs", "compare", a[:8], b[:6], "-f", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert a in result.stdout and b in result.stdout
