"""Bring reviews back from Label Studio as a new dataset version, with a ledger of what changed.

Two phases, so an interruption never loses or doubles anything:

1. **Fetch** (network): every task's latest non-cancelled annotation is decoded and cached under
   ``HOME/annotation/<version>/reviews/`` (one ``.npy`` per annotation revision, written atomically, plus a line
   in ``reviews.jsonl``). A server that goes down mid-fetch leaves only complete cache entries; a task deleted in
   Label Studio later keeps its cached review.
2. **Build** (local): the new version applies the latest cached review of every slice to a copy of the source
   dataset — ``HOME/datasets/<source>-reviewed-<review set>/`` with ``raw/``, ``seg/`` and ``lineage.json`` (parent
   folder and version, and a ledger: task, annotation, annotator, time, volume, slice, voxels added/removed). It
   is assembled in a temporary folder and renamed into place, so it exists completely or not at all; the same
   set of reviews always maps to the same folder, so a re-run returns it instead of writing it twice. The source
   folder is only read, and the old version stays usable.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from pydantic import BaseModel

from minivess.errors import DataError
from minivess.fileio import exclusive, write_bytes_atomic, write_json_atomic
from minivess.pipelines.annotation.processes import pid_alive
from minivess.pipelines.annotation.queue import find_project, iter_tasks, project_tasks, project_title
from minivess.pipelines.annotation.reports import ImportReport, StatusReport
from minivess.pipelines.annotation.slices import mask_from_result, put_slice, take_slice
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset
from minivess.pipelines.data.nifti import load_nifti, read_array, write_nifti_atomic
from minivess.pipelines.tracking.naming import LINEAGE_FILE
from minivess.settings import Settings

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

logger = logging.getLogger(__name__)

CACHE_INDEX: Final = "reviews.jsonl"


class Review(BaseModel):
    """One reviewer's annotation (its latest revision) of one queued slice."""

    task_id: int
    annotation_id: int
    annotator: str | None
    updated_at: str
    key: str
    volume_id: str
    axis: int
    slice_index: int
    mask_file: str

    @property
    def revision(self) -> str:
        return f"{self.annotation_id}@{self.updated_at}"


class LedgerEntry(BaseModel):
    task_id: int
    annotation_id: int
    annotator: str | None
    updated_at: str
    volume_id: str
    axis: int
    slice_index: int
    voxels_added: int
    voxels_removed: int


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def cache_dir(settings: Settings, version: str) -> Path:
    return settings.home_dir / "annotation" / version / "reviews"


def _latest_annotation(task: Any) -> Any | None:
    kept = [a for a in (_field(task, "annotations") or []) if not _field(a, "was_cancelled")]
    return max(kept, key=lambda a: str(_field(a, "updated_at") or "")) if kept else None


def _annotator(annotation: Any) -> str | None:
    who = _field(annotation, "completed_by")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("id"))
    return None if who is None else str(who)


def fetch_reviews(client: LabelStudio, project_id: int, manifest: DatasetManifest, settings: Settings) -> list[Review]:
    """Decode and cache every task's latest annotation; returns the reviews seen on the server now."""
    shapes = {v.id: v.shape for v in manifest.volumes}
    folder = cache_dir(settings, manifest.version)
    cached = {r.revision for r in cached_reviews(settings, manifest.version)}
    seen: list[Review] = []
    for task in iter_tasks(client, project_id, fields="all"):  # each page's reviews are cached before the next
        data, annotation = _field(task, "data") or {}, _latest_annotation(task)
        if annotation is None or data.get("volume_id") not in shapes:
            continue
        axis, index = int(data["axis"]), int(data["slice_index"])
        plane_shape = tuple(n for i, n in enumerate(shapes[data["volume_id"]]) if i != axis)
        review = Review(
            task_id=int(_field(task, "id")),
            annotation_id=int(_field(annotation, "id")),
            annotator=_annotator(annotation),
            updated_at=str(_field(annotation, "updated_at") or ""),
            key=str(data.get("key")),
            volume_id=str(data["volume_id"]),
            axis=axis,
            slice_index=index,
            mask_file="",
        )
        digest = hashlib.sha256(review.revision.encode()).hexdigest()[:16]
        review = review.model_copy(update={"mask_file": f"{review.annotation_id}-{digest}.npy"})
        if review.revision not in cached:
            mask = mask_from_result(list(_field(annotation, "result") or []), plane_shape[0], plane_shape[1])
            buffer = io.BytesIO()
            np.save(buffer, mask)
            write_bytes_atomic(folder / review.mask_file, buffer.getvalue())  # the mask first, then its index line
            append_line(folder / CACHE_INDEX, review.model_dump_json())
            cached.add(review.revision)
        seen.append(review)
    return seen


def append_line(path: Path, line: str) -> None:
    """Append one line; a half-written last line left by a crash is ended first, so the new one stays readable."""
    with path.open("a+b") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        handle.write(line.encode("utf-8") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def remove_stale_builds(folder: Path) -> None:
    """Delete half-built version folders (``.<name>.tmp-<pid>``) whose process is gone (killed mid-build)."""
    for tmp in folder.glob(".*.tmp-*") if folder.is_dir() else []:
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def cached_reviews(settings: Settings, version: str) -> list[Review]:
    """Every cached review revision (a half-written last line from a crash is ignored)."""
    index = cache_dir(settings, version) / CACHE_INDEX
    if not index.is_file():
        return []
    out = []
    for line in index.read_text(encoding="utf-8").splitlines():
        try:
            review = Review.model_validate_json(line)
        except ValueError:
            continue
        if (index.parent / review.mask_file).is_file():
            out.append(review)
    return out


def latest_per_slice(reviews: list[Review]) -> list[Review]:
    """The newest revision per slice key (ties broken by annotation id), sorted by key."""
    best: dict[str, Review] = {}
    for review in reviews:
        current = best.get(review.key)
        if current is None or (review.updated_at, review.annotation_id) > (current.updated_at, current.annotation_id):
            best[review.key] = review
    return [best[k] for k in sorted(best)]


def version_dir(settings: Settings, manifest: DatasetManifest, reviews: list[Review]) -> Path:
    """``HOME/datasets/<source>-reviewed-<hash of the review revisions>``: same reviews, same folder."""
    digest = hashlib.sha256("\n".join(sorted(r.revision for r in reviews)).encode()).hexdigest()[:12]
    return settings.home_dir / "datasets" / f"{manifest.root.name}-reviewed-{digest}"


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def build_version(settings: Settings, manifest: DatasetManifest, reviews: list[Review], project_id: int) -> Path:
    """Write the reviewed copy of the dataset (see the module docstring); returns its folder."""
    target = version_dir(settings, manifest, reviews)
    if (target / LINEAGE_FILE).is_file():
        return target
    remove_stale_builds(target.parent)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    by_volume: dict[str, list[Review]] = {}
    for review in reviews:
        by_volume.setdefault(review.volume_id, []).append(review)
    ledger: list[LedgerEntry] = []
    cache = cache_dir(settings, manifest.version)
    try:
        for record in manifest.volumes:
            image_target = tmp / "raw" / record.image.name
            mask_target = tmp / "seg" / record.mask.name
            _copy(record.image, image_target)
            if record.id not in by_volume:
                _copy(record.mask, mask_target)
                continue
            mask = read_array(record.mask).astype(np.uint8)
            for review in by_volume[record.id]:
                new_plane = np.load(cache / review.mask_file)
                old_plane = take_slice(mask, review.axis, review.slice_index).astype(bool)
                put_slice(mask, review.axis, review.slice_index, new_plane.astype(np.uint8))
                ledger.append(
                    LedgerEntry(
                        **review.model_dump(include={"task_id", "annotation_id", "annotator", "updated_at",
                                                     "volume_id", "axis", "slice_index"}),
                        voxels_added=int((new_plane & ~old_plane).sum()),
                        voxels_removed=int((old_plane & ~new_plane).sum()),
                    )
                )  # fmt: skip
            source = load_nifti(record.mask)
            header = source.header.copy()
            header.set_data_dtype(np.uint8)
            write_nifti_atomic(mask_target, mask, source.affine, header)
        write_json_atomic(
            tmp / LINEAGE_FILE,
            {
                "parent_dir": str(manifest.root),
                "parent_version": manifest.version,
                "label_studio_project": project_id,
                "created_at": datetime.now(UTC).isoformat(),
                "review_ids": [r.annotation_id for r in reviews],
                "ledger": [e.model_dump() for e in ledger],
            },
        )
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def import_reviews(client: LabelStudio, data_dir: Path, settings: Settings) -> ImportReport:
    """Fetch the dataset version's reviews and write (or find) the reviewed dataset version.

    Raises:
        DataError: Nothing was ever queued for this dataset version.
    """
    manifest = scan_dataset(data_dir)
    project_id = find_project(client, project_title(manifest))
    if project_id is None:
        raise DataError(
            f"no Label Studio project for {data_dir} (version {manifest.version}); queue slices first "
            "(`minivess labels queue`)."
        )
    with exclusive(settings.home_dir / "annotation" / manifest.version / "import"):
        fetched = fetch_reviews(client, project_id, manifest, settings)
        reviews = latest_per_slice(cached_reviews(settings, manifest.version))
        if not reviews:
            return ImportReport(
                dataset_dir=None, dataset_version=None, parent_dir=str(manifest.root),
                parent_version=manifest.version, reviews_fetched=len(fetched), reviews_applied=0, voxels_changed=0,
                already_imported=False,
            )  # fmt: skip
        existed = (version_dir(settings, manifest, reviews) / LINEAGE_FILE).is_file()
        target = build_version(settings, manifest, reviews, project_id)
    _record_reviewed(settings, manifest.version, target)
    lineage = json.loads((target / LINEAGE_FILE).read_text())
    changed = sum(e["voxels_added"] + e["voxels_removed"] for e in lineage["ledger"])
    report = ImportReport(
        dataset_dir=str(target),
        dataset_version=scan_dataset(target).version,
        parent_dir=str(manifest.root),
        parent_version=manifest.version,
        reviews_fetched=len(fetched),
        reviews_applied=len(reviews),
        voxels_changed=changed,
        already_imported=existed,
    )
    if not existed:
        _audit_import(settings, report, lineage)
    return report


def _audit_import(settings: Settings, report: ImportReport, lineage: dict[str, Any]) -> None:
    """The label import's audit entry: which reviews (and reviewers) made which dataset version from which."""
    from minivess.pipelines.governance import audit

    annotators = sorted({str(e.get("annotator")) for e in lineage["ledger"] if e.get("annotator")})
    audit.append(
        settings,
        "label_import",
        f"reviewed version {report.dataset_version} of {report.parent_version}",
        details={
            **report.model_dump(),
            "annotators": annotators,
            "annotation_ids": sorted({e["annotation_id"] for e in lineage["ledger"] if "annotation_id" in e}),
        },
        data_version=report.dataset_version,
    )


def _record_reviewed(settings: Settings, parent_manifest_version: str, target: Path) -> None:
    """Record the reviewed folder as a DVC version (parent: the source's DVC version, if it has one) + lineage."""
    from minivess.pipelines.governance import lineage
    from minivess.pipelines.governance.versions import record_quietly, version_for_manifest

    parent = version_for_manifest(settings, parent_manifest_version)
    source = lineage.dataset_name(parent.dataset, parent.version) if parent else f"dataset/@{parent_manifest_version}"
    with lineage.job_run(settings, "label_import", inputs=[source]) as job:
        recorded = record_quietly(settings, target, "label_import", parent.version if parent else None)
        if recorded:
            job.outputs(lineage.dataset_name(recorded.dataset, recorded.version))


def review_status(client: LabelStudio, data_dir: Path, settings: Settings) -> StatusReport:
    """How far the review of a dataset version has got."""
    manifest = scan_dataset(data_dir)
    title = project_title(manifest)
    project_id = find_project(client, title)
    versions = settings.home_dir / "datasets"
    pattern = f"{manifest.root.name}-reviewed-*"
    imported = (
        sorted(str(p) for p in versions.glob(pattern) if (p / LINEAGE_FILE).is_file()) if versions.is_dir() else []
    )
    if project_id is None:
        return StatusReport(project_id=None, project_title=title, dataset_version=manifest.version, tasks=0,
                            reviewed=0, skipped=0, pending=0, imported_versions=imported)  # fmt: skip
    tasks = project_tasks(client, project_id, fields="all")
    reviewed = sum(1 for t in tasks if _latest_annotation(t) is not None)
    skipped = sum(
        1
        for t in tasks
        if _latest_annotation(t) is None and any(_field(a, "was_cancelled") for a in _field(t, "annotations") or [])
    )
    return StatusReport(
        project_id=project_id, project_title=title, dataset_version=manifest.version, tasks=len(tasks),
        reviewed=reviewed, skipped=skipped, pending=len(tasks) - reviewed - skipped, imported_versions=imported,
    )  # fmt: skip
