"""The annotation loop against the real Label Studio server: queue, idempotent re-queue, review through the API,
status, import as a new dataset version, lineage on the next training run, interruptions.

A scripted reviewer stands in for a person: it answers tasks through the same REST API the web UI uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from minivess.configs.loading import load_experiment
from minivess.errors import LabelStudioError
from minivess.pipelines.annotation import label_issues, reviews, workflow
from minivess.pipelines.annotation.client import connect
from minivess.pipelines.annotation.queue import find_project, project_tasks, project_title
from minivess.pipelines.annotation.slices import brush_result, take_slice
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.nifti import read_array
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.tracking import naming
from minivess.pipelines.training import runs
from minivess.settings import Settings
from tests.labelstudio.conftest import RunningServer

pytestmark = [pytest.mark.labelstudio, pytest.mark.integration]


@pytest.fixture
def loop_settings(label_studio: RunningServer, tmp_path: Path) -> Settings:
    """A fresh minivess home that talks to the session's server (as a hosted server would be configured)."""
    return Settings(home=tmp_path / "home", label_studio_url=label_studio.url, label_studio_token=label_studio.token)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    # One project per (folder name, dataset version) on the shared session server: a per-test folder name
    # keeps the tests' projects apart.
    root = tmp_path / f"user-data-{tmp_path.name}"
    write_dataset(root, n=5, config=get_preset("noisy_labels").model_copy(update={"shape": (48, 48, 16)}), seed=4)
    return root


def _issue_table(settings: Settings, data: Path, slices: list[tuple[str, int]]) -> None:
    """A label-issue table ranking the given slices (the finder itself is tested in tests/unit/…/annotation)."""
    manifest = scan_dataset(data)
    rows = [
        label_issues.SliceIssue(
            rank=i + 1, volume_id=vid, axis=2, slice_index=index, score=0.1 + 0.01 * i, suspicious_fraction=0.2,
            suspicious_pixels=10, pixels=48 * 48, downsample=1, label_fraction=0.1,
        )
        for i, (vid, index) in enumerate(slices)
    ]  # fmt: skip
    label_issues.save_issue_table(label_issues.issue_table_path(settings, manifest.version), rows)


def _answer(settings: Settings, task: object, mask: np.ndarray, cancelled: bool = False) -> None:
    client, _ = connect(settings)
    client.annotations.create(
        id=int(task.id),  # type: ignore[attr-defined]
        result=[brush_result(mask)] if not cancelled else [],
        was_cancelled=cancelled,
    )


@pytest.fixture
def queued(loop_settings: Settings, dataset: Path) -> Iterator[tuple[Settings, Path, list[tuple[str, int]]]]:
    manifest = scan_dataset(dataset)
    ids = [v.id for v in manifest.volumes]
    slices = [(ids[0], 3), (ids[1], 7), (ids[0], 9), (ids[2], 1), (ids[3], 12), (ids[4], 5)]
    _issue_table(loop_settings, dataset, slices)
    yield loop_settings, dataset, slices


def test_queue_is_ordered_and_requeue_adds_only_new_slices(
    queued: tuple[Settings, Path, list[tuple[str, int]]],
) -> None:
    settings, data, slices = queued
    first = workflow.queue_top(data, settings, 4)
    assert (first.queued, first.already_queued, first.total_tasks) == (4, 0, 4)
    again = workflow.queue_top(data, settings, 6)
    assert (again.queued, again.already_queued, again.total_tasks) == (2, 4, 6)
    assert again.project_id == first.project_id
    client, _ = connect(settings)
    tasks = sorted(project_tasks(client, first.project_id, fields="all"), key=lambda t: t.id)
    assert [(t.data["volume_id"], t.data["slice_index"]) for t in tasks] == slices  # most suspicious first
    assert all(t.data["image"].startswith("data:image/png;base64,") for t in tasks)
    assert {p.model_version for p in tasks[0].predictions or []} == {"current-label"}  # no run: the mask only


def test_reviews_import_as_a_new_version_and_training_records_them(
    queued: tuple[Settings, Path, list[tuple[str, int]]],
) -> None:
    settings, data, slices = queued
    report = workflow.queue_top(data, settings, 4)
    client, _ = connect(settings)
    tasks = sorted(project_tasks(client, report.project_id), key=lambda t: t.id)
    manifest = scan_dataset(data)
    records = {v.id: v for v in manifest.volumes}
    fixes = {}
    for task, (vid, index) in zip(tasks[:2], slices[:2], strict=True):
        clean = ~take_slice(read_array(records[vid].mask).astype(bool), 2, index)  # a visible, checkable change
        _answer(settings, task, clean)
        fixes[(vid, index)] = clean
    _answer(settings, tasks[2], np.zeros((48, 48), bool), cancelled=True)  # skipped by the reviewer

    status = workflow.status(data, settings)
    assert (status.tasks, status.reviewed, status.skipped, status.pending) == (4, 2, 1, 1)

    before = {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}
    imported = workflow.import_all(data, settings)
    assert imported.reviews_applied == 2 and not imported.already_imported
    assert {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()} == before  # the source is only read
    new = Path(imported.dataset_dir or "")
    assert new.is_relative_to(settings.home_dir) and imported.dataset_version != manifest.version
    for (vid, index), clean in fixes.items():
        assert np.array_equal(
            take_slice(read_array(new / "seg" / records[vid].mask.name).astype(bool), 2, index), clean
        )
    lineage = json.loads((new / "lineage.json").read_text())
    assert [(e["volume_id"], e["slice_index"]) for e in lineage["ledger"]] == sorted(fixes)
    assert all(e["annotator"] for e in lineage["ledger"])

    again = workflow.import_all(data, settings)
    assert again.already_imported and again.dataset_dir == imported.dataset_dir  # nothing written twice

    overrides = [f"data.dir={new}", "data.patch_size=[32,32,16]", "model.options.init_filters=4", "trainer.epochs=1"]
    result = runs.train(load_experiment("segresnet_tiny", overrides), settings)
    tags = MlflowClient(settings.tracking_uri).get_run(result.run_id).data.tags
    assert tags[naming.TAG_DATA_VERSION] == imported.dataset_version
    assert tags[naming.TAG_PARENT_DATA_VERSION] == manifest.version
    assert tags[naming.TAG_REVIEW_IDS] == ",".join(str(i) for i in lineage["review_ids"])


def test_deleted_task_and_crash_mid_build_lose_nothing(
    queued: tuple[Settings, Path, list[tuple[str, int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, data, _ = queued
    report = workflow.queue_top(data, settings, 2)
    client, _ = connect(settings)
    tasks = sorted(project_tasks(client, report.project_id), key=lambda t: t.id)
    for task in tasks:
        _answer(settings, task, np.ones((48, 48), bool))

    calls = {"n": 0}
    original = reviews.write_nifti_atomic

    def crash_on_second(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reviews, "write_nifti_atomic", crash_on_second)
    with pytest.raises(OSError, match="simulated"):
        workflow.import_all(data, settings)
    datasets = settings.home_dir / "datasets"
    assert not datasets.exists() or not list(datasets.iterdir())  # no half-built version, no temp folder left
    monkeypatch.setattr(reviews, "write_nifti_atomic", original)

    client.tasks.delete(str(tasks[0].id))  # the reviewer's work on a deleted task is not lost: it was cached
    finished = workflow.import_all(data, settings)
    assert finished.reviews_applied == 2 and not finished.already_imported
    lineage = json.loads((Path(finished.dataset_dir or "") / "lineage.json").read_text())
    assert len(lineage["ledger"]) == 2


def test_server_down_mid_import_then_rerun_finishes(
    queued: tuple[Settings, Path, list[tuple[str, int]]], label_studio: RunningServer
) -> None:
    settings, data, _ = queued
    report = workflow.queue_top(data, settings, 1)
    client, _ = connect(settings)
    _answer(settings, project_tasks(client, report.project_id)[0], np.ones((48, 48), bool))
    label_studio.stop()
    try:
        with pytest.raises(LabelStudioError, match="did not answer"):
            workflow.import_all(data, settings)
        assert not (settings.home_dir / "datasets").exists()
    finally:
        label_studio.start()
    done = workflow.import_all(data, settings)
    assert done.reviews_applied == 1 and done.dataset_dir


def test_nothing_queued_is_a_clear_error(loop_settings: Settings, dataset: Path) -> None:
    with pytest.raises(Exception, match="queue slices first"):
        workflow.import_all(dataset, loop_settings)
    client, _ = connect(loop_settings)
    assert find_project(client, project_title(scan_dataset(dataset))) is None


def test_server_lost_between_pages_keeps_what_was_fetched(
    queued: tuple[Settings, Path, list[tuple[str, int]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    settings, data, _ = queued
    report = workflow.queue_top(data, settings, 3)
    client, _ = connect(settings)
    for task in project_tasks(client, report.project_id):
        _answer(settings, task, np.ones((48, 48), bool))
    real_iter = reviews.iter_tasks

    def dies_after_one(*args: object, **kwargs: object) -> Iterator[object]:
        tasks = real_iter(*args, **kwargs)  # type: ignore[arg-type]
        yield next(tasks)
        raise httpx.ConnectError("connection refused (simulated: the server went down between pages)")

    monkeypatch.setattr(reviews, "iter_tasks", dies_after_one)
    with pytest.raises(LabelStudioError, match="did not answer while importing reviews"):
        workflow.import_all(data, settings)
    assert len(reviews.cached_reviews(settings, scan_dataset(data).version)) == 1  # the first page's review kept
    assert not (settings.home_dir / "datasets").exists()
    monkeypatch.setattr(reviews, "iter_tasks", real_iter)
    done = workflow.import_all(data, settings)
    assert done.reviews_applied == 3 and done.reviews_fetched == 3
    assert len(reviews.cached_reviews(settings, scan_dataset(data).version)) == 3  # nothing cached twice
