"""The review-loop tools find a dataset by path or by name under the data dir (what `synthesize_data` made)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.errors import ToolInputError
from minivess.settings import Settings
from minivess.tools.annotation import _dataset
from minivess.tools.base import ToolContext


def _folder(root: Path) -> Path:
    (root / "raw").mkdir(parents=True)
    (root / "seg").mkdir()
    return root


def test_a_name_is_looked_up_under_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ToolContext(settings=Settings(home=tmp_path / "home"))
    made = _folder(ctx.settings.resolved_data_dir / "noisy_demo")
    monkeypatch.chdir(tmp_path)  # no ./noisy_demo here
    assert _dataset("noisy_demo", ctx) == made.resolve()


def test_a_path_wins_and_an_unknown_name_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = ToolContext(settings=Settings(home=tmp_path / "home"))
    _folder(ctx.settings.resolved_data_dir / "batch3")
    local = _folder(tmp_path / "work" / "batch3")
    monkeypatch.chdir(tmp_path / "work")
    assert _dataset("batch3", ctx) == local.resolve()  # ./batch3 exists: the user's own folder first
    assert _dataset(str(local), ctx) == local.resolve()
    with pytest.raises(ToolInputError, match=r"no dataset 'nowhere_7'.*give a dataset folder"):
        _dataset("nowhere_7", ctx)


def test_train_model_and_dataset_info_take_a_dataset_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'train segresnet on quick8' after 'synthesise 8 volumes called quick8': the name is the data dir's quick8."""
    from minivess.pipelines.data.synthetic import get_preset, write_dataset
    from minivess.tools.data import DatasetInfoArgs, dataset_info
    from minivess.tools.training import TrainModelArgs, train_model

    ctx = ToolContext(settings=Settings(home=tmp_path / "home"))
    config = get_preset("small").model_copy(update={"shape": (16, 16, 8)})
    write_dataset(ctx.settings.resolved_data_dir / "quick8", n=2, config=config, seed=0)
    monkeypatch.chdir(tmp_path)
    info = dataset_info.run(DatasetInfoArgs(path="quick8"), ctx)
    assert Path(info.path) == (ctx.settings.resolved_data_dir / "quick8").resolve() and info.n_volumes == 2
    with pytest.raises(ToolInputError, match=r"no dataset 'nowhere_7'"):
        train_model.run(TrainModelArgs(model="segresnet", dataset="nowhere_7"), ctx)  # before any training starts
