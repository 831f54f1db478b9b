"""Calibration, conformal FNR control, ensembles, soups and the weight gate on real (tiny) trained runs.

One home is shared by the module: four SegResNet runs are trained once (three alike with different seeds,
one with another patch size), then every test works on them. Tests only add runs, tags and metrics, so their
order does not matter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from minivess.configs.loading import load_experiment
from minivess.errors import ConfigError, DataError
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.registry import register_run_model
from minivess.pipelines.training import evaluation, runs
from minivess.pipelines.uncertainty import run_calibration, run_conformal, run_ensemble, run_gate, run_soup
from minivess.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class Trained:
    settings: Settings
    data: Path
    alike: list[str]  # three runs, same config, seeds 0-2 (2 epochs each)
    other_patch: str  # same data, patch 32×32×8


def _overrides(data: Path, seed: int, patch: str = "[32,32,16]", epochs: int = 2) -> list[str]:
    return [
        f"data.dir={data}",
        f"data.patch_size={patch}",
        "data.samples_per_volume=2",
        "data.val_fraction=0.25",
        "data.test_fraction=0.25",
        "model.name=segresnet",
        "model.options.init_filters=4",
        f"trainer.epochs={epochs}",
        "trainer.batch_size=4",
        f"trainer.seed={seed}",
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("uncertainty")
    data = root / "data"
    write_dataset(data, n=8, config=get_preset("default").model_copy(update={"shape": (48, 48, 16)}), seed=3)
    settings = Settings(home=root / "home")
    alike = [runs.train(load_experiment(None, _overrides(data, seed)), settings).run_id for seed in range(3)]
    other = runs.train(load_experiment(None, _overrides(data, 0, "[32,32,8]", epochs=1)), settings).run_id
    return Trained(settings, data, alike, other)


def _run_count(settings: Settings) -> int:
    client = MlflowClient(settings.tracking_uri)
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()]))


def test_calibration_is_stored_and_evaluate_applies_it(trained: Trained) -> None:
    run_id = trained.alike[0]
    report = run_calibration.calibrate_run(run_id, trained.settings)

    assert report.temperature > 0 and report.n_fit_voxels > 0
    assert set(report.before) == set(report.after) == {"foreground", "volume"}
    assert report.after["foreground"].nll <= report.before["foreground"].nll + 0.05  # fitted on val, checked on test
    assert Path(report.reliability_diagram).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = MlflowClient(trained.settings.tracking_uri).get_run(run_id)
    assert run.data.metrics[naming.METRIC_TEMPERATURE] == pytest.approx(report.temperature)
    assert run.data.params["calibration.temperature"] == f"{report.temperature:.6g}"
    assert "test_ece_before" in run.data.metrics

    evaluated = evaluation.evaluate_run(run_id, trained.settings, split="test")
    assert evaluated.summary["test_ece"] == pytest.approx(report.after["foreground"].ece, abs=1e-9)
    assert evaluated.summary["test_ece_volume"] == pytest.approx(report.after["volume"].ece, abs=1e-9)


def test_conformal_threshold_is_stored_and_bad_alpha_writes_nothing(trained: Trained) -> None:
    run_id = trained.alike[1]
    client = MlflowClient(trained.settings.tracking_uri)
    for alpha, error, message in (
        (0.05, DataError, "needs at least 19"),
        (0.0, ValueError, "between 0 and 1"),
        (1.5, ValueError, "between 0 and 1"),
    ):
        with pytest.raises(error, match=message):
            run_conformal.conformal_calibrate(run_id, trained.settings, alpha)
    assert not any(k.startswith("minivess.conformal") for k in client.get_run(run_id).data.tags)

    report = run_conformal.conformal_calibrate(run_id, trained.settings, 0.4)  # 2 validation volumes suffice
    assert 0.0 <= report.threshold <= 1.0 and report.n_calibration == 2
    assert report.calibration_fnr <= 0.4 and set(report.test_fnr_per_volume) == set(
        json.loads((trained.settings.runs_dir / run_id / "splits.json").read_text())["test"]
    )
    stored = json.loads(client.get_run(run_id).data.tags[run_conformal.threshold_tag(0.4)])
    assert stored["threshold"] == pytest.approx(report.threshold)
    assert run_conformal.threshold_for(run_id, trained.settings, 0.4) == pytest.approx(report.threshold)


def test_predict_writes_conformal_mask_and_entropy_on_the_input_grid(trained: Trained, tmp_path: Path) -> None:
    run_id = trained.alike[1]
    source = sorted((trained.data / "raw").glob("*.nii.gz"))[0]
    plain = evaluation.predict_file(run_id, source, tmp_path / "plain.nii.gz", trained.settings)
    strict = evaluation.predict_file(
        run_id,
        source,
        tmp_path / "low.nii.gz",
        trained.settings,
        threshold=0.05,
        uncertainty_path=tmp_path / "entropy.nii.gz",
    )
    image = nib.load(source)
    low = np.asarray(nib.load(strict.mask_path).dataobj)
    entropy = nib.load(tmp_path / "entropy.nii.gz")
    assert low.shape == entropy.shape == image.shape
    np.testing.assert_allclose(entropy.affine, image.affine)
    assert (low >= np.asarray(nib.load(plain.mask_path).dataobj)).all()  # a lower threshold only adds voxels
    values = np.asarray(entropy.dataobj)
    assert values.min() >= 0 and values.max() <= np.log(2) + 1e-6


def test_ensemble_of_three_is_a_run_that_evaluates_and_promotes(trained: Trained) -> None:
    report = run_ensemble.build_ensemble(trained.alike, trained.settings, "mean")
    client = MlflowClient(trained.settings.tracking_uri)
    run = client.get_run(report.run_id)

    assert run.data.tags[naming.TAG_MODEL_FAMILY] == "ensemble"
    assert run.data.params["ensemble.members"] == ",".join(trained.alike)
    assert set(report.test) >= {"dice", "cldice", "nsd", "hd95", "ece"}
    assert report.best_member in trained.alike and set(report.member_test) == set(trained.alike)
    maps = sorted(Path(report.uncertainty_maps).glob("*_variance.nii.gz"))
    assert maps and all(np.asarray(nib.load(m).dataobj).min() >= 0 for m in maps)
    np.testing.assert_allclose(nib.load(maps[0]).header.get_zooms()[:3], _spacing(trained), rtol=1e-5)

    again = evaluation.evaluate_run(report.run_id, trained.settings, split="test")
    assert again.summary["test_dice"] == pytest.approx(report.test["dice"], abs=1e-6)
    version = register_run_model(client, report.run_id, "minivess-ensemble", alias="challenger")
    assert version.run_id == report.run_id


def _spacing(trained: Trained) -> tuple[float, ...]:
    zooms = nib.load(sorted((trained.data / "raw").glob("*.nii.gz"))[0]).header.get_zooms()[:3]
    return tuple(float(z) for z in zooms)


def test_ensemble_refuses_mismatched_members_and_writes_nothing(trained: Trained) -> None:
    before = _run_count(trained.settings)
    with pytest.raises(ConfigError, match="patch size"):
        run_ensemble.build_ensemble([trained.alike[0], trained.other_patch], trained.settings, "mean")
    with pytest.raises(ConfigError, match="twice"):
        run_ensemble.build_ensemble([trained.alike[0], trained.alike[0]], trained.settings, "vote")
    assert _run_count(trained.settings) == before


def test_greedy_soup_keeps_the_best_epoch_first_and_refuses_unrelated_runs(trained: Trained) -> None:
    before = _run_count(trained.settings)
    with pytest.raises(ConfigError, match="trained from scratch"):
        run_soup.greedy_soup(trained.alike[:2], trained.settings)
    assert _run_count(trained.settings) == before

    report = run_soup.greedy_soup(trained.alike[2], trained.settings)
    client = MlflowClient(trained.settings.tracking_uri)
    history = {m.step: m.value for m in client.get_metric_history(trained.alike[2], naming.METRIC_VAL_DICE)}
    assert sorted(report.ingredients) == [1, 2]
    assert report.kept[0] == max(history, key=lambda e: history[e])
    assert report.val_dice_soup >= report.val_dice_best_ingredient
    soup = client.get_run(report.run_id)
    assert soup.data.tags[naming.TAG_MODEL_FAMILY] == "soup"
    assert soup.data.params["soup.kept_epochs"] == ",".join(str(e) for e in report.kept)


def test_weight_gate_covers_conv3d_and_logs_its_verdict(trained: Trained) -> None:
    report = run_gate.quality_gate(trained.alike[0], trained.settings)
    assert report.layers_analysed > report.layers_native
    assert report.layers_total >= report.layers_analysed
    tags = MlflowClient(trained.settings.tracking_uri).get_run(trained.alike[0]).data.tags
    assert tags[run_gate.TAG_GATE] == ("pass" if report.passed else "fail")
    assert report.passed == (not report.reasons)


def test_runs_without_a_validation_split_are_refused(trained: Trained) -> None:
    splits_file = trained.settings.runs_dir / trained.other_patch / "splits.json"
    original = splits_file.read_text()
    splits = json.loads(original)
    splits_file.write_text(json.dumps({**splits, "test": splits["test"] + splits["val"], "val": []}))
    try:
        before = _run_count(trained.settings)
        with pytest.raises(DataError, match="no validation split"):
            run_calibration.calibrate_run(trained.other_patch, trained.settings)
        with pytest.raises(DataError, match="no validation split"):
            run_soup.greedy_soup(trained.other_patch, trained.settings)
        with pytest.raises(DataError, match="no validation split"):
            run_conformal.conformal_calibrate(trained.other_patch, trained.settings, 0.4)
        assert _run_count(trained.settings) == before
    finally:
        splits_file.write_text(original)
