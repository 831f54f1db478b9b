"""K-fold training splits: data.folds/data.fold validation, the held-out fold as test, unchanged default split."""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.configs.loading import load_experiment
from minivess.errors import ConfigError
from minivess.pipelines.data.splits import make_kfold, make_splits
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.training.setup import fold_splits, load_data
from minivess.settings import Settings

IDS = [f"synth_{i:03d}" for i in range(10)]


@pytest.mark.parametrize(
    "overrides",
    [["data.folds=1"], ["data.folds=3", "data.fold=3"], ["data.fold=1"], ["data.folds=3", "data.fold=-1"]],
)
def test_invalid_fold_settings_are_refused(overrides: list[str]) -> None:
    with pytest.raises(ConfigError, match="data.fold"):
        load_experiment(None, overrides)


def test_defaults_are_off() -> None:
    cfg = load_experiment(None, [])
    assert cfg.data.folds is None and cfg.data.fold == 0


def test_held_out_folds_partition_the_volumes_and_never_overlap_training() -> None:
    tests: list[str] = []
    for fold in range(4):
        cfg = load_experiment(None, ["data.folds=4", f"data.fold={fold}", "data.val_fraction=0.25"])
        splits = fold_splits(IDS, "v1", cfg)
        assert sorted(splits.train + splits.val + splits.test) == IDS
        assert not set(splits.train) & set(splits.val)
        assert splits.test == make_kfold(IDS, "v1", k=4, seed=0).folds[fold][1]
        assert len(splits.val) == max(1, round((len(IDS) - len(splits.test)) * 0.25))
        assert fold_splits(IDS, "v1", cfg) == splits  # deterministic
        tests += splits.test
    assert sorted(tests) == IDS


def test_the_split_seed_changes_the_folds() -> None:
    a = fold_splits(IDS, "v1", load_experiment(None, ["data.folds=5"]))
    b = fold_splits(IDS, "v1", load_experiment(None, ["data.folds=5", "data.split_seed=1"]))
    assert a.test != b.test and b.seed == 1


def test_load_data_uses_the_fold_only_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_dataset(data, n=6, config=get_preset("default").model_copy(update={"shape": (16, 16, 8)}), seed=0)
    settings = Settings(home=tmp_path / "home")
    manifest, plain = load_data(load_experiment(None, [f"data.dir={data}"]), settings)
    assert plain == make_splits(manifest.ids(), manifest.version, 0.2, 0.2, 0)
    _, folded = load_data(load_experiment(None, [f"data.dir={data}", "data.folds=3", "data.fold=2"]), settings)
    assert folded.test == make_kfold(manifest.ids(), manifest.version, k=3).folds[2][1]
    assert len(folded.test) == 2 and len(folded.val) == 1 and len(folded.train) == 3
    with pytest.raises(ConfigError, match="k=7"):
        load_data(load_experiment(None, [f"data.dir={data}", "data.folds=7"]), settings)
