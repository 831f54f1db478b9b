"""Drift: the `shifted` preset is flagged against `default`, another `default` seed is not, too few volumes is said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.governance.drift import compare_datasets, smallest_p_value, volume_features
from minivess.settings import Settings, get_settings

SHAPE = (48, 48, 16)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift")
    made = {}
    for name, preset, seed, n in [("ref", "default", 0, 6), ("same", "default", 1, 6), ("shift", "shifted", 2, 6),
                                  ("few", "shifted", 3, 3)]:  # fmt: skip
        made[name] = root / name
        write_dataset(made[name], n=n, config=get_preset(preset).model_copy(update={"shape": SHAPE}), seed=seed)
    return made


def test_shifted_is_flagged_and_another_default_seed_is_not(datasets: dict[str, Path]) -> None:
    settings = get_settings()
    shifted = compare_datasets(settings, str(datasets["ref"]), str(datasets["shift"]))
    assert shifted.sufficient and shifted.drifted
    assert all(f.test == "ks" for f in shifted.features if f.p_value is not None)  # never Z / chi-square
    assert {"snr", "intensity_p1"} <= set(shifted.drifted_features)  # lower contrast, more noise and haze
    report = Path(shifted.report_html or "")
    assert report.is_file() and "intensity_p1" in report.read_text()  # Evidently's HTML names the columns
    same = compare_datasets(settings, str(datasets["ref"]), str(datasets["same"]))
    assert same.sufficient and not same.drifted and same.drifted_features == []
    tested = [f for f in same.features if f.p_value is not None]
    assert tested and all(f.test == "ks" for f in tested)  # forced: K-S, exact at these sizes
    assert same.threshold == pytest.approx(0.05 / len(tested))
    constant = {f.name: f for f in same.features if f.test == "constant"}
    assert {"spacing_x", "shape_z"} <= set(constant) and not any(f.drifted for f in constant.values())


def test_too_few_volumes_is_reported_not_called_no_drift(datasets: dict[str, Path]) -> None:
    result = compare_datasets(get_settings(), str(datasets["ref"]), str(datasets["few"]))
    assert result.n_current == 3 and not result.sufficient
    assert not result.drifted and result.report_html is None
    assert all("too few volumes (6 and 3 with a value)" in f.note for f in result.features if f.test == "not tested")


def test_the_smallest_p_value_decides_whether_a_test_can_fire() -> None:
    from scipy.stats import ks_2samp

    for n, m in [(3, 3), (5, 5), (5, 6), (6, 6)]:  # scipy's exact K-S on fully separated samples
        exact = ks_2samp(list(range(n)), [100 + i for i in range(m)], method="exact").pvalue
        assert smallest_p_value(n, m) == pytest.approx(exact, rel=1e-9)
    assert smallest_p_value(5, 5) > 0.05 / 7  # 5 a side cannot beat a threshold over 7 features
    assert smallest_p_value(6, 6) < 0.05 / 13


def test_a_constant_feature_that_differs_between_sides_is_drift(datasets: dict[str, Path], tmp_path: Path) -> None:
    other = tmp_path / "other-shape"
    write_dataset(other, n=6, config=get_preset("default").model_copy(update={"shape": (48, 48, 8)}), seed=0)
    result = compare_datasets(get_settings(), str(datasets["ref"]), str(other))
    shape_z = next(f for f in result.features if f.name == "shape_z")
    assert shape_z.test == "constant" and shape_z.drifted and "16.0 vs 8.0" in shape_z.note
    assert result.drifted


def test_features_are_one_row_per_volume_and_the_snr_follows_its_definition(datasets: dict[str, Path]) -> None:
    import numpy as np

    from minivess.pipelines.data.nifti import load_nifti

    manifest = scan_dataset(datasets["ref"])
    rows = volume_features(manifest)
    assert len(rows) == len(manifest.volumes) == 6
    first = manifest.volumes[0]
    image = np.asarray(load_nifti(first.image).dataobj, dtype=np.float32)
    mask = np.asarray(load_nifti(first.mask).dataobj) > 0
    assert rows[0]["snr"] == pytest.approx(image[mask].mean() / image[~mask].std(), rel=1e-5)
    assert rows[0]["intensity_p50"] == pytest.approx(float(np.percentile(image, 50)), rel=1e-6)


def test_cli_exit_codes_and_user_folders_untouched(datasets: dict[str, Path]) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    before = sorted(p.relative_to(datasets["ref"]) for p in datasets["ref"].rglob("*"))
    flagged = runner.invoke(app, ["data", "drift", str(datasets["ref"]), str(datasets["shift"]), "--json"])
    assert flagged.exit_code == 1
    assert json.loads(flagged.stdout[: flagged.stdout.rindex("}") + 1])["drifted"] is True
    fine = runner.invoke(app, ["data", "drift", str(datasets["ref"]), str(datasets["same"])])
    assert fine.exit_code == 0 and "no drift detected" in fine.output
    few = runner.invoke(app, ["data", "drift", str(datasets["ref"]), str(datasets["few"])])
    assert few.exit_code == 0 and "too few volumes" in few.output
    assert sorted(p.relative_to(datasets["ref"]) for p in datasets["ref"].rglob("*")) == before  # read only
    assert (Settings().home_dir / "drift").is_dir()


def test_a_feature_undefined_on_one_side_is_not_tested_and_the_rest_still_is(
    datasets: dict[str, Path], tmp_path: Path
) -> None:
    """Unlabelled new data (empty masks): SNR has no value there; Evidently would refuse the column."""
    import shutil

    import nibabel as nib
    import numpy as np

    empty = tmp_path / "empty-masks"
    shutil.copytree(datasets["shift"], empty)
    for path in (empty / "seg").glob("*.nii.gz"):
        image = nib.load(path)
        nib.save(nib.Nifti1Image(np.zeros(image.shape, dtype=np.uint8), image.affine, image.header), path)
    result = compare_datasets(get_settings(), str(datasets["ref"]), str(empty))
    snr = next(f for f in result.features if f.name == "snr")
    assert snr.test == "not tested" and not snr.drifted and "current dataset" in snr.note
    assert result.sufficient and "intensity_p1" in result.drifted_features
