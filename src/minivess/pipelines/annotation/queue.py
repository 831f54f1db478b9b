"""Queue suspicious slices for review in Label Studio (label-studio-sdk), one project per dataset version.

Each task shows the slice (PNG), metadata for the reviewer (volume, slice, score, run, dataset version) and two
pre-annotations: the **current mask** (model version ``current-label``, the project's default, so the editor
starts from it) and the **model's prediction** (``run-<id>``) to compare against. Tasks are imported in rank
order (most suspicious first) and carry a key ``<version>:<volume>:<axis>:<slice>``: re-queueing skips keys the
project already has, so nothing is duplicated; a lock per home and dataset version serialises two queueing
processes. Tasks go to the server in chunks of ``IMPORT_CHUNK`` (most suspicious first), so a large queue never
needs one huge request, and a retry after a failed chunk adds only what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from numpy.typing import NDArray
from pydantic import BaseModel

from minivess.errors import DataError
from minivess.fileio import exclusive
from minivess.pipelines.annotation.reports import QueueReport
from minivess.pipelines.annotation.slices import (
    FROM_NAME,
    LABEL,
    TO_NAME,
    brush_result,
    png_data_uri,
    slice_png,
    take_slice,
)
from minivess.pipelines.data.manifest import DatasetManifest, VolumeRecord, scan_dataset
from minivess.pipelines.data.nifti import read_array
from minivess.settings import Settings

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger(__name__)

CURRENT_LABEL: Final = "current-label"
PAGE_SIZE: Final = 100
IMPORT_CHUNK: Final = 50  # tasks per import request (each carries a PNG and RLE masks)
LABEL_CONFIG: Final = f"""<View>
  <Header value="$title"/>
  <Text name="meta" value="$meta"/>
  <Image name="{TO_NAME}" value="$image" zoom="true" zoomControl="true"/>
  <BrushLabels name="{FROM_NAME}" toName="{TO_NAME}">
    <Label value="{LABEL}" background="#ff3030"/>
  </BrushLabels>
</View>"""


class QueuedSlice(BaseModel):
    """One slice to review (a row of the label-issue table)."""

    volume_id: str
    axis: int
    slice_index: int
    score: float
    suspicious_fraction: float = 0.0


TITLE_MAX: Final = 50  # Label Studio refuses longer project titles


def project_title(manifest: DatasetManifest) -> str:
    """``minivess <dataset folder> <version>``: one project per dataset version, within Label Studio's 50 characters.

    A long folder name is cut (with ``…``); the version, which identifies the project, is always whole.
    """
    room = TITLE_MAX - len("minivess  ") - len(manifest.version)
    name = manifest.root.name if len(manifest.root.name) <= room else manifest.root.name[: room - 1] + "…"
    return f"minivess {name} {manifest.version}"


def task_key(version: str, item: QueuedSlice) -> str:
    return f"{version}:{item.volume_id}:{item.axis}:{item.slice_index}"


def find_project(client: LabelStudio, title: str) -> int | None:
    """The id of the project with this exact title, or None."""
    projects: list[Any] = list(client.projects.list(title=title))
    for project in projects:
        if project.title == title and project.id is not None:
            return int(project.id)
    return None


def ensure_project(client: LabelStudio, manifest: DatasetManifest) -> int:
    title = project_title(manifest)
    found = find_project(client, title)
    if found is not None:
        return found
    created = client.projects.create(
        title=title,
        label_config=LABEL_CONFIG,
        description=f"Suspicious slices of {manifest.root} (version {manifest.version}), most suspicious first.",
        model_version=CURRENT_LABEL,
        show_collab_predictions=True,
    )
    return int(created.id or 0)


def iter_tasks(client: LabelStudio, project_id: int, fields: str = "task_only") -> Iterator[Any]:
    """The tasks of a project, fetched a page at a time as they are consumed."""
    yield from client.tasks.list(project=project_id, fields=fields, page_size=PAGE_SIZE)


def project_tasks(client: LabelStudio, project_id: int, fields: str = "task_only") -> list[Any]:
    """Every task of a project (paged)."""
    return list(iter_tasks(client, project_id, fields))


def _volumes(manifest: DatasetManifest) -> dict[str, VolumeRecord]:
    return {v.id: v for v in manifest.volumes}


def build_task(
    manifest: DatasetManifest,
    record: VolumeRecord,
    item: QueuedSlice,
    rank: int,
    image: NDArray[Any],
    label: NDArray[Any],
    prediction: NDArray[Any] | None,
    run_id: str | None,
) -> dict[str, Any]:
    """The Label Studio task (data + pre-annotations) for one slice."""
    plane = take_slice(image, item.axis, item.slice_index)
    key = task_key(manifest.version, item)
    meta = (
        f"rank {rank} · volume {record.id} · slice {item.slice_index} (axis {item.axis}) · cleanlab score "
        f"{item.score:.4f} · suspicious pixels {item.suspicious_fraction:.1%} · dataset {manifest.version}"
        + (f" · model run {run_id}" if run_id else "")
    )
    predictions = [
        {
            "model_version": CURRENT_LABEL,
            "score": 1.0,
            "result": [brush_result(take_slice(label, item.axis, item.slice_index))],
        }
    ]
    if prediction is not None:
        predictions.append(
            {
                "model_version": f"run-{run_id}",
                "score": float(item.score),
                "result": [brush_result(take_slice(prediction, item.axis, item.slice_index))],
            }
        )
    return {
        "data": {
            "image": png_data_uri(slice_png(plane)),
            "title": f"{record.id} slice {item.slice_index}",
            "meta": meta,
            "key": key,
            "volume_id": record.id,
            "axis": item.axis,
            "slice_index": item.slice_index,
            "score": item.score,
            "rank": rank,
            "dataset_version": manifest.version,
            "run_id": run_id or "",
        },
        "predictions": predictions,
    }


def queue_slices(
    client: LabelStudio,
    data_dir: Path,
    settings: Settings,
    items: Sequence[QueuedSlice],
    predict: Callable[[Path], NDArray[Any]] | None = None,
    run_id: str | None = None,
    base_url: str = "",
) -> QueueReport:
    """Create (or reuse) the dataset version's project and add the slices it does not have yet, in order.

    Args:
        client: A Label Studio client.
        data_dir: The dataset the slices belong to (read only).
        items: Slices, most suspicious first.
        predict: Maps an image file to the model's binary mask on the file's grid (None: no prediction shown).
        run_id: The run behind ``predict`` (shown to the reviewer and stored with the task).
        base_url: The server's URL, for the link in the report.

    Raises:
        DataError: A slice names a volume the dataset does not have.
    """
    manifest = scan_dataset(data_dir)
    volumes = _volumes(manifest)
    unknown = sorted({i.volume_id for i in items} - set(volumes))
    if unknown:
        raise DataError(f"volumes {', '.join(unknown[:5])} are not in {data_dir} (version {manifest.version}).")
    with exclusive(settings.home_dir / "annotation" / manifest.version / "queue"):
        project_id = ensure_project(client, manifest)
        existing = {str(t.data.get("key")) for t in project_tasks(client, project_id) if t.data}
        ranked = [(rank, i) for rank, i in enumerate(items, start=1) if task_key(manifest.version, i) not in existing]
        tasks: list[tuple[int, dict[str, Any]]] = []
        for volume_id in dict.fromkeys(i.volume_id for _, i in ranked):  # one volume in memory at a time
            record = volumes[volume_id]
            image, label = read_array(record.image), read_array(record.mask).astype(bool)
            prediction = predict(record.image) if predict else None
            for rank, item in ranked:
                if item.volume_id == volume_id:
                    tasks.append((rank, build_task(manifest, record, item, rank, image, label, prediction, run_id)))
        tasks.sort(key=lambda pair: pair[0])  # imported most suspicious first: Label Studio shows them in id order
        requests: list[Any] = [t for _, t in tasks]
        for start in range(0, len(requests), IMPORT_CHUNK):
            client.projects.import_tasks(project_id, request=requests[start : start + IMPORT_CHUNK])
        total = len(existing) + len(tasks)
    already = len(items) - len(ranked)
    logger.info("queued %d slice(s) to project %d (%d already there)", len(tasks), project_id, already)
    return QueueReport(
        project_id=project_id,
        project_title=project_title(manifest),
        dataset_version=manifest.version,
        queued=len(tasks),
        already_queued=already,
        total_tasks=total,
        url=f"{base_url.rstrip('/')}/projects/{project_id}/data",
    )
