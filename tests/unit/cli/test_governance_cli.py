"""`minivess data add|versions` and `minivess lineage`: a tiny run walked back through a reviewed version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.configs.loading import load_experiment
from minivess.errors import MinivessError
from minivess.fileio import write_json_atomic
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.governance import lineage
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import client_for
from minivess.pipelines.training import runs
from minivess.settings import get_settings
from tests.helpers import write_tube_dataset

runner = CliRunner()


def _tiny(data_dir: Path) -> list[str]:
    return [f"data.dir={data_dir}", "data.patch_size=[16,16,16]", "data.samples_per_volume=1",
            "data.val_fraction=0.25", "data.test_fraction=0.25", "model.name=segresnet",
            "model.options.init_filters=4", "trainer.epochs=1", "trainer.batch_size=2"]  # fmt: skip


def test_add_versions_train_and_walk_through_a_reviewed_version(tmp_path: Path) -> None:
    settings = get_settings()
    raw = write_tube_dataset(tmp_path / "user" / "raw-vessels", n=4)
    added = runner.invoke(app, ["data", "add", str(raw), "--name", "vessels"])
    assert added.exit_code == 0, added.output
    parent = json.loads(runner.invoke(app, ["data", "versions", "vessels", "--json"]).output)[0]

    reviewed = settings.home_dir / "datasets" / "vessels-reviewed-abc"
    shutil.copytree(raw, reviewed)
    write_json_atomic(reviewed / naming.LINEAGE_FILE, {"parent_version": scan_dataset(raw).version,
                      "label_studio_project": 7, "review_ids": [11, 12]})  # fmt: skip
    from minivess.pipelines.governance.versions import record_version

    child = record_version(settings, reviewed, "label_import", parent_version=parent["version"])
    table = runner.invoke(app, ["data", "versions"])
    assert table.exit_code == 0 and "dataset" in table.output
    listed = json.loads(runner.invoke(app, ["data", "versions", "--json"]).output)
    assert [(v["dataset"], v["source"]) for v in listed] == [("vessels", "add"), (reviewed.name, "label_import")]

    result = runs.train(load_experiment(None, _tiny(reviewed)), settings)
    tags = client_for(settings.tracking_uri).get_run(result.run_id).data.tags
    assert tags[naming.TAG_DVC_VERSION] == child.version

    shown = runner.invoke(app, ["lineage", result.run_id[:8], "--json"])
    assert shown.exit_code == 0, shown.output
    tree = json.loads(shown.output)
    assert tree["kind"] == "run" and tree["details"]["dvc_version"] == child.version
    dataset = tree["children"][0]
    assert dataset["details"]["version"] == child.version and dataset["details"]["source"] == "label_import"
    reviews, parent_node = dataset["children"]
    assert reviews["kind"] == "reviews" and reviews["details"]["review_ids"] == [11, 12]
    assert parent_node["details"]["version"] == parent["version"]
    volumes = parent_node["children"][0]
    assert volumes["kind"] == "volumes" and len(volumes["children"]) == 4
    assert "review(s)" in runner.invoke(app, ["lineage", "last"]).output

    train_events = [e for e in lineage.read_events(settings) if e["job"]["name"] == "train"]
    assert [e["eventType"] for e in train_events] == ["START", "COMPLETE"]
    assert train_events[1]["inputs"][0]["name"] == f"dataset/vessels-reviewed-abc@{child.version}"
    assert train_events[1]["run"]["facets"]["minivess"]["mlflow_run_id"] == result.run_id


def test_unknown_ref_is_one_line_minivess_error() -> None:
    shown = runner.invoke(app, ["lineage", "nosuchrun"])  # cli/app.main turns a MinivessError into exit 2
    assert isinstance(shown.exception, MinivessError)
    assert "nosuchrun" in str(shown.exception) and "\n" not in str(shown.exception)
