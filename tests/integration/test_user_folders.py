"""The user's folders are read-only to us: data info, train and ask leave a dataset's files byte-identical."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from minivess.settings import get_settings
from tests.integration.conftest import tiny_overrides

pytestmark = pytest.mark.integration


def _minivess(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "minivess", *args], capture_output=True, text=True, timeout=600, env=env
    )


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under root with the sha256 of each file ('dir' for folders)."""
    return {
        str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def _run_count() -> int:
    settings = get_settings()
    if not (settings.home_dir / "mlflow.db").exists():
        return 0
    client = MlflowClient(settings.tracking_uri)
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()]))


@pytest.fixture
def user_data(tiny_synthetic: Path, tmp_path: Path) -> Path:
    """A user's dataset folder (a copy: tests must not modify the session's tiny set)."""
    folder = tmp_path / "user" / "vessels"
    shutil.copytree(tiny_synthetic, folder)
    return folder


def test_data_info_train_and_ask_leave_the_dataset_untouched(
    user_data: Path, minivess_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(user_data.parent)

    info = _minivess("data", "info", str(user_data))
    assert info.returncode == 0, info.stderr
    mips = sorted((minivess_home / "mip").glob("vessels-*/*_mip.png"))
    assert len(mips) == 5 and str(mips[0].parent) in "".join(info.stdout.split())  # the output says where
    split = _minivess("data", "split", str(user_data))
    assert split.returncode == 0, split.stderr
    assert list((minivess_home / "splits").glob("vessels-*/splits.json"))

    train = _minivess("train", *(a for item in tiny_overrides(user_data, epochs=1) for a in ("--set", item)))
    assert train.returncode == 0, train.stderr

    monkeypatch.setenv("MINIVESS_DATA_DIR", str(user_data.parent))
    asked = _minivess("ask", f"train a segresnet for 1 epoch on {user_data}", "--yes")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert _run_count() == 2, asked.stdout + asked.stderr  # the agent trained on the user's folder

    assert _snapshot(user_data.parent) == before


def test_a_data_dir_without_a_dataset_is_an_error_naming_it_and_nothing_is_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "user-data"
    (folder / "raw").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes\n")
    before = _snapshot(folder)
    monkeypatch.setenv("MINIVESS_DATA_DIR", str(folder))

    train = _minivess("train", "--set", "trainer.epochs=1")
    assert train.returncode == 2, train.stdout + train.stderr
    message = " ".join(train.stderr.split())
    assert "DataError" in message and f"MINIVESS_DATA_DIR={folder}" in message
    asked = _minivess("ask", "train a segresnet for 1 epoch", "--yes")
    assert "no dataset at" in " ".join(asked.stdout.split()), asked.stdout + asked.stderr

    assert _snapshot(folder) == before  # no synthetic/ appeared in the user's folder
    assert _run_count() == 0


def test_a_truncated_volume_is_named_before_any_run_exists(user_data: Path) -> None:
    broken = user_data / "raw" / "synth_002.nii.gz"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])

    train = _minivess("train", *(a for item in tiny_overrides(user_data, epochs=1) for a in ("--set", item)))
    assert train.returncode == 2, train.stdout + train.stderr
    message = " ".join(train.stderr.split())
    assert "DataError" in message and str(broken) in message and "truncated" in message
    assert "Traceback" not in train.stderr
    assert _run_count() == 0
