"""The label-issue chain on real (tiny) runs: 2 fold runs → out-of-fold probabilities → the ranked table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from minivess.pipelines.annotation.label_issues import find_label_issues_for_dataset, load_issue_table
from minivess.pipelines.annotation.oof import TAG_OOF_FOLD, load_oof
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TINY = [
    "data.patch_size=[32,32,16]",
    "data.samples_per_volume=1",
    "data.val_fraction=0.5",
    "model.options.init_filters=4",
    "trainer.batch_size=2",
    "trainer.keep_epoch_weights=0",
]


def test_two_folds_score_every_slice_of_every_volume(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_dataset(data, n=4, config=get_preset("noisy_labels").model_copy(update={"shape": (48, 48, 16)}), seed=0)
    before = {p.relative_to(data): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}
    settings = Settings(home=tmp_path / "home")
    seen: list[tuple[int, str]] = []

    found = find_label_issues_for_dataset(
        data, settings, folds=2, epochs=1, overrides=TINY, on_fold=lambda f, r: seen.append((f, r))
    )

    assert [f for f, _ in seen] == [0, 1] and [r for _, r in seen] == found.fold_runs
    assert found.table_path == settings.home_dir / "annotation" / found.dataset_version / "label_issues.parquet"
    rows = load_issue_table(found.table_path)
    assert rows == found.rows and len(rows) == 4 * 16
    assert [r.rank for r in rows] == list(range(1, 65)) and all(0 <= r.score <= 1 for r in rows)

    oof = load_oof(found.oof_index.parent)
    assert oof.volume_ids == [f"synth_00{i}" for i in range(4)] and oof.calibrated
    held_out = [set(r.volumes) for r in oof.runs]
    assert not held_out[0] & held_out[1]
    probs = np.load(oof.path("synth_000"))
    assert probs.dtype == np.float16 and probs.shape == (48, 48, 16) and 0 <= probs.min() <= probs.max() <= 1
    assert json.loads(found.oof_index.read_text())["runs"][0]["temperature"] > 0

    client = MlflowClient(settings.tracking_uri)
    for fold, run_id in enumerate(found.fold_runs):
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED" and run.data.tags[TAG_OOF_FOLD] == f"{fold}/2"
        assert run.data.params["data.folds"] == "2" and run.data.params["data.fold"] == str(fold)
    after = {p.relative_to(data): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}
    assert after == before  # nothing written into (or changed in) the dataset
