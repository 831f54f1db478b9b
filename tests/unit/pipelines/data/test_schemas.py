"""Pandera schema of the dataset manifest: valid manifests pass, every broken column is named at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minivess.errors import DataError
from minivess.pipelines.data.manifest import DatasetManifest, VolumeRecord, scan_dataset
from minivess.pipelines.data.schemas import manifest_frame, manifest_problems, validate_manifest
from minivess.pipelines.data.splits import Splits, make_splits
from minivess.pipelines.data.synthetic import SynthConfig, write_dataset


def _record(vid: str, spacing: tuple[float, float, float] = (1.0, 1.0, 2.0)) -> VolumeRecord:
    return VolumeRecord(
        id=vid,
        image=Path(f"/data/raw/{vid}.nii.gz"),
        mask=Path(f"/data/seg/{vid}.nii.gz"),
        shape=(32, 32, 16),
        spacing=spacing,
        vessel_fraction=0.05,
        sha256="0123456789abcdef" * 4,
    )


def _manifest(*ids: str) -> DatasetManifest:
    return DatasetManifest(root=Path("/data"), volumes=[_record(v) for v in ids])


def _splits(train: list[str], val: list[str], test: list[str]) -> Splits:
    return Splits(train=train, val=val, test=test, seed=0, dataset_version="v")


def test_a_valid_manifest_and_its_splits_pass() -> None:
    manifest = _manifest("a", "b", "c")
    validate_manifest(manifest, _splits(["a"], ["b"], ["c"]))
    frame = manifest_frame(manifest, _splits(["a"], ["b"], ["c"]))
    assert frame["split"].tolist() == ["train", "val", "test"]
    assert frame[["shape_x", "shape_y", "shape_z"]].iloc[0].tolist() == [32, 32, 16]
    assert manifest_problems(frame) == []


def test_negative_spacing_duplicate_id_and_bad_split_are_all_named() -> None:
    frame = manifest_frame(_manifest("a", "b", "c"), _splits(["a", "b"], ["c"], []))
    frame.loc[1, "spacing_y"] = -0.5
    frame.loc[2, "id"] = "a"
    frame.loc[0, "split"] = "holdout"
    problems = manifest_problems(frame)
    assert len(problems) == 3
    text = "\n".join(problems)
    assert "column 'spacing_y' failed greater_than(0): id=b (-0.5)" in text
    assert "column 'id' failed field_uniqueness: id=a" in text
    assert "column 'split' failed isin(['train', 'val', 'test']): id=a ('holdout')" in text
    assert "minivess data split" in text  # each line says what to do


def test_a_hand_edited_manifest_fails_on_load_with_a_data_error(tmp_path: Path) -> None:
    """The loaded path: a manifest JSON with a duplicate id and bad spacing is a DataError, not a traceback."""
    data = json.loads(_manifest("a", "b").model_dump_json())
    data["volumes"][1]["id"] = "a"
    data["volumes"][0]["spacing"] = [1.0, 0.0, float("inf")]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(DataError) as caught:
        DatasetManifest.model_validate_json((tmp_path / "manifest.json").read_text())
    message = str(caught.value)
    assert "failed 3 schema check(s)" in message
    assert "column 'id' failed field_uniqueness: id=a" in message
    assert "column 'spacing_y' failed greater_than(0): id=a (0.0)" in message
    assert "column 'spacing_z' failed finite: id=a (inf)" in message
    assert "Traceback" not in message and "SchemaErrors" not in message


def test_split_membership_must_be_exactly_one_known_split() -> None:
    with pytest.raises(DataError) as caught:
        validate_manifest(_manifest("a", "b", "c"), _splits(["a", "zz"], ["a"], ["b"]))
    message = str(caught.value)
    assert "id=a ('train+val')" in message  # in two splits
    assert "id=c ('')" in message  # in none
    assert "not in the dataset: zz" in message


def test_the_real_manifest_of_a_synthesized_dataset_passes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_dataset(root, 3, SynthConfig(shape=(24, 24, 8)), seed=1)
    manifest = scan_dataset(root)  # the validator runs here too
    splits = make_splits(manifest.ids(), manifest.version, val_fraction=0.34, test_fraction=0.34)
    frame = manifest_frame(manifest, splits)
    assert manifest_problems(frame) == []
    assert sorted(frame["split"]) == ["test", "train", "val"]
    assert (frame[["spacing_x", "spacing_y", "spacing_z"]] > 0).all().all()


def test_importing_the_manifest_does_not_load_pandera() -> None:
    """CLI start-up: pandera loads when a manifest is validated, not when the modules are imported."""
    code = (
        "import sys; import minivess.pipelines.data.manifest, minivess.pipelines.data.schemas, "
        "minivess.pipelines.analytics.sync; print('pandera' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
