"""`minivess train` and `minivess runs sync` leave their job metrics in HOME/metrics (node_exporter textfiles);
`train`, `evaluate` and `predict` from the terminal leave a trace each in the local store, linked to the run."""

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
    _assert_traced_commands(minivess_home, data)

    synced = runner.invoke(app, ["runs", "sync"])
    assert synced.exit_code == 0, synced.output
    sync = _values(minivess_home / "metrics" / "sync-warehouse.prom")
    assert sync["minivess_sync_runs"] >= 1 and sync["minivess_job_status"] == 0


def _assert_traced_commands(home: Path, data: Path) -> None:
    """The train just run, then evaluate and predict on its run: one `cli` trace each, tied to the MLflow run."""
    from minivess.observability import TraceStore, get_tracer
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.settings import get_settings

    assert runner.invoke(app, ["evaluate", "last", "--split", "val"]).exit_code == 0
    image = sorted((data / "raw").glob("*.nii.gz"))[0]
    predicted = runner.invoke(app, ["predict", "last", str(image), "-o", str(home.parent / "mask.nii.gz")])
    assert predicted.exit_code == 0, predicted.output
    settings = get_settings()
    assert get_tracer(settings).flush()
    store = TraceStore(home / "traces.db")
    traces = {t.name: t for t in store.list_traces()}
    assert {"train", "evaluate", "predict"} <= set(traces) and not any(t.errors for t in traces.values())
    train = store.trace(traces["train"].trace_id).roots[0]
    run_id = train.record.metadata["mlflow_run_id"]
    events = [e.record.name for e in train.children[0].children]
    assert events == ["training started", "epoch", "training finished"], [
        (t.name, [o.name for o in store.observations(t.trace_id)]) for t in store.list_traces()
    ]
    tags = client_for(settings.tracking_uri).get_run(run_id).data.tags
    assert tags["minivess.trace_id"] == traces["train"].trace_id
    evaluate = store.trace(traces["evaluate"].trace_id).roots[0].record
    assert evaluate.metadata == {"mlflow_run_id": run_id}
