"""The annotation loop's entry points for the CLI and the tools: queue the top issues, status, import.

Each connects to the configured Label Studio (``client.connect``) and reads the label-issue table that
``label_issues.find_label_issues_for_dataset`` stored for the dataset version.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minivess.errors import DataError
from minivess.pipelines.annotation.client import connect, server_errors
from minivess.pipelines.annotation.queue import QueuedSlice, queue_slices
from minivess.pipelines.annotation.reports import ImportReport, QueueReport, StatusReport
from minivess.pipelines.annotation.reviews import import_reviews, review_status
from minivess.pipelines.data.manifest import scan_dataset
from minivess.settings import Settings


def top_issues(data_dir: Path, settings: Settings, k: int) -> list[QueuedSlice]:
    """The k most suspicious slices of the dataset version's label-issue table.

    Raises:
        DataError: No table for this version (run `minivess labels find` first) or k < 1.
    """
    from minivess.pipelines.annotation import label_issues

    if k < 1:
        raise DataError(f"queue at least 1 slice, got {k}.")
    manifest = scan_dataset(data_dir)
    path = label_issues.issue_table_path(settings, manifest.version)
    if not path.is_file():
        raise DataError(
            f"no label-issue table for {data_dir} (version {manifest.version}); find issues first "
            "(`minivess labels find`)."
        )
    rows = label_issues.load_issue_table(path)[:k]  # in rank order
    return [
        QueuedSlice(
            volume_id=r.volume_id, axis=r.axis, slice_index=r.slice_index, score=r.score,
            suspicious_fraction=r.suspicious_fraction,
        )
        for r in rows
    ]  # fmt: skip


def run_predictor(run_ref: str, settings: Settings) -> tuple[str, Callable[[Path], NDArray[Any]]]:
    """The run's full id and its binary mask (temperature-scaled p > 0.5) on an image file's own grid."""
    from minivess.pipelines.training.evaluation import open_run, segment_probability

    run = open_run(run_ref, settings)

    def predict(image: Path) -> NDArray[Any]:
        probability = segment_probability(run.model, run.spec, image, run.cfg.inference, run.device, run.temperature)
        return np.asarray(probability > 0.5)

    return run.run_id, predict


def queue_top(data_dir: Path, settings: Settings, k: int, run_ref: str | None = None) -> QueueReport:
    """Queue the k most suspicious slices (with the prediction of the run ``run_ref`` names, when given)."""
    items = top_issues(data_dir, settings, k)
    run_id, predict = run_predictor(run_ref, settings) if run_ref else (None, None)
    client, url = connect(settings)
    with server_errors(url, "queueing slices"):
        return queue_slices(client, data_dir, settings, items, predict=predict, run_id=run_id, base_url=url)


def status(data_dir: Path, settings: Settings) -> StatusReport:
    client, url = connect(settings)
    with server_errors(url, "reading review progress"):
        return review_status(client, data_dir, settings)


def import_all(data_dir: Path, settings: Settings) -> ImportReport:
    client, url = connect(settings)
    with server_errors(url, "importing reviews"):
        return import_reviews(client, data_dir, settings)
