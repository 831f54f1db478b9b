"""`minivess export` and `minivess predict --engine onnx` as a user runs them (real processes, real MLflow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from minivess.pipelines.serving.onnx_model import CHECK_FILE, INPUT_SPEC_FILE, ONNX_ARTIFACT, ONNX_FILE
from tests.serving.conftest import ServedRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _minivess(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minivess", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _unboxed(text: str) -> str:
    """An error panel's text on one line (rich draws a box and wraps)."""
    return " ".join(line.strip("│ ╭╮╰╯─") for line in text.splitlines()).replace("  ", " ")


def test_export_stores_checked_model_in_mlflow(served_run: ServedRun, tmp_path: Path) -> None:
    done = _minivess(["export", "champion"], served_run.env(), tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"exported run {served_run.run_id}" in done.stdout.replace("\n", " ")
    assert "max |Δ probability|" in done.stdout

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{served_run.home / 'mlflow.db'}")
    stored = {Path(a.path).name for a in client.list_artifacts(served_run.run_id, ONNX_ARTIFACT)}
    assert stored == {ONNX_FILE, INPUT_SPEC_FILE, CHECK_FILE}
    check = json.loads((served_run.home / "runs" / served_run.run_id / ONNX_ARTIFACT / CHECK_FILE).read_text())
    assert check["max_abs_diff_probability"] < check["tolerance"] == 1e-3
    assert check["volume"] is not None and check["volume_max_abs_diff_probability"] < 1e-3
    assert check["batch_sizes"] == [1, 3]
    assert list(tmp_path.iterdir()) == []  # nothing written where the user stood


def test_onnx_prediction_matches_torch(served_run: ServedRun, tmp_path: Path) -> None:
    volume = served_run.volumes()[0]
    outputs = {}
    for engine in ("torch", "onnx"):
        out, entropy = tmp_path / f"{engine}.nii.gz", tmp_path / f"{engine}-u.nii.gz"
        args = ["predict", served_run.run_id, str(volume), "-o", str(out), "--uncertainty", str(entropy)]
        done = _minivess([*args, "--engine", engine], served_run.env(), tmp_path)
        assert done.returncode == 0, done.stderr + done.stdout
        outputs[engine] = (nib.load(str(out)), nib.load(str(entropy)))
    (mask_t, ent_t), (mask_o, ent_o) = outputs["torch"], outputs["onnx"]
    np.testing.assert_array_equal(np.asarray(mask_t.dataobj), np.asarray(mask_o.dataobj))
    np.testing.assert_allclose(mask_o.affine, nib.load(str(volume)).affine)
    assert float(np.abs(ent_t.get_fdata() - ent_o.get_fdata()).max()) < 1e-3


def test_bad_engine_and_unknown_run_fail_in_one_line(served_run: ServedRun, tmp_path: Path) -> None:
    volume = str(served_run.volumes()[0])
    bad_engine = _minivess(
        ["predict", "last", volume, "-o", "x.nii.gz", "--engine", "tensorrt"], served_run.env(), tmp_path
    )
    assert bad_engine.returncode == 2 and "--engine tensorrt: choose one of torch, onnx" in bad_engine.stderr
    unknown = _minivess(["export", "abcdef99"], served_run.env(), tmp_path)
    assert unknown.returncode == 2 and "no run id starts with 'abcdef99'" in unknown.stderr
    assert "Traceback" not in unknown.stdout + unknown.stderr


def test_unexported_run_says_how_and_two_exports_at_once_both_succeed(
    served_run: ServedRun, tmp_path: Path, minivess_home: Path
) -> None:
    """A run never exported: predict --engine onnx names the fix; two concurrent exports both finish cleanly."""
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.training import runs
    from minivess.settings import Settings

    settings = Settings(home=minivess_home)
    cfg = load_experiment(
        None,
        [
            f"data.dir={served_run.data_dir}",
            "data.patch_size=[32,32,16]",
            "model.options.init_filters=4",
            "trainer.epochs=1",
            "trainer.batch_size=2",
            "data.val_fraction=0.2",
            "data.test_fraction=0.2",
        ],
    )
    run_id = runs.train(cfg, settings).run_id
    env = {**served_run.env(), "MINIVESS_HOME": str(minivess_home)}
    volume = str(served_run.volumes()[0])

    missing = _minivess(["predict", run_id, volume, "-o", "m.nii.gz", "--engine", "onnx"], env, tmp_path)
    assert missing.returncode == 2
    assert f"has no ONNX export; create it with `minivess export {run_id[:8]}`" in _unboxed(missing.stderr)

    first, second = (
        subprocess.Popen(
            [sys.executable, "-m", "minivess", "export", run_id],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    )
    outs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    folder = minivess_home / "runs" / run_id
    assert sorted(p.name for p in (folder / ONNX_ARTIFACT).iterdir()) == sorted(
        [CHECK_FILE, INPUT_SPEC_FILE, ONNX_FILE]
    )
    assert not [p for p in folder.iterdir() if p.name.startswith(f".{ONNX_ARTIFACT}")]  # no staging left
    done = _minivess(["predict", run_id, volume, "-o", str(tmp_path / "m.nii.gz"), "--engine", "onnx"], env, tmp_path)
    assert done.returncode == 0, done.stdout
