"""`minivess train` and `minivess runs sync` leave their job metrics in HOME/metrics (node_exporter textfiles)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from minivess.cli.app import app
from tests.helpers import write_tube_dataset

runner = CliRunner(env={"COLUMNS": "220"})


def _values(path: Path) -> dict[str, float]:
    """Sample name (labels dropped, the first sample of each name) → value."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            found.setdefault(sample.name, sample.value)
    return found


def test_train_then_sync_leave_their_metrics_files(tmp_path: Path, minivess_home: Path) -> None:
    data = write_tube_dataset(tmp_path / "vessels", n=4)
    tiny = [f"data.dir={data}", "data.patch_size=[16,16,16]", "data.samples_per_volume=1",
            "data.val_fraction=0.25", "data.test_fraction=0.25", "model.name=segresnet",
            "model.options.init_filters=4", "trainer.epochs=1", "trainer.batch_size=2"]  # fmt: skip
    result = runner.invoke(app, ["train", *[arg for value in tiny for arg in ("--set", value)]])
    assert result.exit_code == 0, result.output
    [train] = (minivess_home / "metrics").glob("train-*.prom")
    values = _values(train)
    assert values["minivess_train_epochs_total"] == 1
    assert values["minivess_job_status"] == 0 and values["minivess_job_last_success_timestamp_seconds"] > 0
    assert "minivess_train_last_val_dice" in values

    synced = runner.invoke(app, ["runs", "sync"])
    assert synced.exit_code == 0, synced.output
    sync = _values(minivess_home / "metrics" / "sync-warehouse.prom")
    assert sync["minivess_sync_runs"] >= 1 and sync["minivess_job_status"] == 0
