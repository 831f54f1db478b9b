"""The review loop as users drive it, against the real server: `minivess labels …` in subprocesses (two queueing
at once on one home), and the agent (`minivess ask`) queueing, checking and importing through its tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minivess.pipelines.annotation import label_issues
from minivess.pipelines.annotation.client import connect
from minivess.pipelines.annotation.queue import project_tasks
from minivess.pipelines.annotation.slices import brush_result
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.settings import Settings

pytestmark = [pytest.mark.labelstudio, pytest.mark.integration]


def _minivess(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minivess", *args], capture_output=True, text=True, timeout=600, env=dict(os.environ)
    )


@pytest.fixture
def scored(label_studio_env: str, minivess_home: Path, tmp_path: Path) -> Path:
    """A user dataset (folder name unique per test) whose label-issue table ranks 6 slices."""
    data = tmp_path / f"lab-{tmp_path.name[-20:]}"
    write_dataset(data, n=3, config=get_preset("noisy_labels").model_copy(update={"shape": (32, 32, 8)}), seed=1)
    manifest = scan_dataset(data)
    ids = [v.id for v in manifest.volumes]
    slices = [(ids[0], 1), (ids[1], 2), (ids[2], 3), (ids[0], 4), (ids[1], 5), (ids[2], 6)]
    rows = [
        label_issues.SliceIssue(
            rank=i + 1, volume_id=vid, axis=2, slice_index=z, score=0.01 * (i + 1), suspicious_fraction=0.1,
            suspicious_pixels=5, pixels=32 * 32, downsample=1, label_fraction=0.1,
        )
        for i, (vid, z) in enumerate(slices)
    ]  # fmt: skip
    label_issues.save_issue_table(label_issues.issue_table_path(Settings(), manifest.version), rows)
    return data


def test_two_cli_queues_at_once_make_each_task_once_then_status_and_import(scored: Path) -> None:
    command = [sys.executable, "-m", "minivess", "labels", "queue", str(scored), "-k", "4"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    client, _ = connect(Settings())
    project_id = label_issues_project(client, scored)
    tasks = project_tasks(client, project_id, fields="all")
    assert sorted(t.data["key"] for t in tasks) == sorted({t.data["key"] for t in tasks}) and len(tasks) == 4

    client.annotations.create(id=int(tasks[0].id), result=[brush_result(np.ones((32, 32), bool))])
    status = _minivess("labels", "status", str(scored))
    assert status.returncode == 0, status.stderr
    assert "reviewed" in status.stdout and "pending" in status.stdout

    imported = _minivess("labels", "import", str(scored))
    assert imported.returncode == 0, imported.stderr
    assert "train on it: minivess train --set data.dir=" in imported.stdout
    versions = list((Settings().home_dir / "datasets").iterdir())
    assert len(versions) == 1 and (versions[0] / "lineage.json").is_file()


def label_issues_project(client: object, data: Path) -> int:
    from minivess.pipelines.annotation.queue import find_project, project_title

    found = find_project(client, project_title(scan_dataset(data)))  # type: ignore[arg-type]
    assert found is not None
    return found


def test_the_agent_queues_checks_and_imports_through_its_tools(scored: Path) -> None:
    queued = _minivess("ask", f"queue the 3 most suspicious slices of {scored} for review", "--yes", "--json")
    assert queued.returncode == 0, queued.stdout + queued.stderr
    outcome = json.loads(queued.stdout)
    (call,) = outcome["tools"]
    assert call["name"] == "queue_for_review" and call["arguments"]["top_k"] == 3
    assert call["arguments"]["dataset"] == str(scored)
    assert call["result"]["queued"] == 3 and call["result"]["total_tasks"] == 3

    client, _ = connect(Settings())
    for task in project_tasks(client, call["result"]["project_id"])[:2]:
        client.annotations.create(id=int(task.id), result=[brush_result(np.zeros((32, 32), bool))])

    asked = _minivess("ask", f"how far is the review of {scored}?", "--json")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    (status,) = json.loads(asked.stdout)["tools"]
    assert status["name"] == "review_status"
    assert (status["result"]["reviewed"], status["result"]["pending"]) == (2, 1)

    done = _minivess("ask", f"import the reviews of {scored}", "--yes", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    (imported,) = json.loads(done.stdout)["tools"]
    assert imported["name"] == "import_reviews" and imported["result"]["reviews_applied"] == 2
    assert Path(imported["result"]["dataset_dir"]).is_relative_to(Settings().home_dir)
