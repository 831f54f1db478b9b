"""Slice PNG/RLE round trips, and reviewed dataset versions: new folder, ledger, idempotent, source untouched."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minivess.pipelines.annotation import reviews
from minivess.pipelines.annotation.queue import project_title
from minivess.pipelines.annotation.reviews import Review, build_version, latest_per_slice
from minivess.pipelines.annotation.slices import (
    brush_result,
    mask_from_result,
    mask_to_rle,
    put_slice,
    rle_to_mask,
    slice_png,
    take_slice,
)
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.nifti import read_array
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.settings import Settings


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 48)])
def test_rle_round_trip(shape: tuple[int, int]) -> None:
    mask = np.random.default_rng(sum(shape)).random(shape) > 0.6
    assert np.array_equal(rle_to_mask(mask_to_rle(mask), *shape), mask)
    assert np.array_equal(mask_from_result([brush_result(mask), brush_result(~mask)], *shape), np.ones(shape, bool))
    assert not mask_from_result([], *shape).any()


def test_rle_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="decodes to"):
        rle_to_mask(mask_to_rle(np.ones((4, 4), bool)), 5, 4)


def test_slices_go_back_where_they_came_from_and_png_is_normalised() -> None:
    volume = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    for axis in range(3):
        plane = take_slice(volume, axis, 2)
        target = np.zeros_like(volume)
        put_slice(target, axis, 2, plane)
        assert np.array_equal(take_slice(target, axis, 2), plane)
    image = np.asarray(Image.open(io.BytesIO(slice_png(take_slice(volume, 2, 1).astype(float)))))
    assert image.dtype == np.uint8 and image.min() == 0 and image.max() == 255
    with pytest.raises(ValueError, match="outside axis"):
        take_slice(volume, 2, 6)


def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "user-data"
    write_dataset(root, n=2, config=get_preset("default").model_copy(update={"shape": (24, 24, 8)}), seed=0)
    return root


def _review(
    settings: Settings, version: str, volume: str, index: int, mask: np.ndarray, annotation: int, at: str
) -> Review:
    folder = reviews.cache_dir(settings, version)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{annotation}-{at}.npy"
    np.save(folder / name, mask)
    review = Review(
        task_id=annotation, annotation_id=annotation, annotator="r@x", updated_at=at,
        key=f"{version}:{volume}:2:{index}", volume_id=volume, axis=2, slice_index=index, mask_file=name,
    )  # fmt: skip
    with (folder / reviews.CACHE_INDEX).open("a") as f:
        f.write(review.model_dump_json() + "\n")
    return review


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_reviews_become_a_new_version_with_a_ledger(tmp_path: Path) -> None:
    source = _dataset(tmp_path)
    before = _tree_digest(source)
    settings = Settings(home=tmp_path / "home")
    manifest = scan_dataset(source)
    volume = manifest.volumes[0]
    empty = np.zeros(volume.shape[:2], dtype=bool)
    full = np.ones(volume.shape[:2], dtype=bool)
    old = _review(settings, manifest.version, volume.id, 3, full, 1, "2026-01-01T00:00:00")
    newer = _review(settings, manifest.version, volume.id, 3, empty, 2, "2026-01-02T00:00:00")
    other = _review(settings, manifest.version, volume.id, 5, full, 3, "2026-01-01T00:00:00")
    chosen = latest_per_slice(reviews.cached_reviews(settings, manifest.version))
    assert [r.annotation_id for r in chosen] == [newer.annotation_id, other.annotation_id]

    target = build_version(settings, manifest, chosen, project_id=7)
    assert target.is_relative_to(settings.home_dir) and _tree_digest(source) == before  # the source is only read
    mask = read_array(target / "seg" / volume.mask.name)
    original = read_array(volume.mask)
    assert not take_slice(mask, 2, 3).any() and take_slice(mask, 2, 5).all()
    untouched = [i for i in range(volume.shape[2]) if i not in (3, 5)]
    assert np.array_equal(mask[:, :, untouched], original[:, :, untouched])
    lineage = json.loads((target / "lineage.json").read_text())
    assert lineage["parent_version"] == manifest.version and lineage["review_ids"] == [2, 3]
    removed = int(take_slice(original, 2, 3).sum())
    added = int((~take_slice(original, 2, 5).astype(bool)).sum())
    assert [(e["slice_index"], e["voxels_added"], e["voxels_removed"]) for e in lineage["ledger"]] == [
        (3, 0, removed), (5, added, 0)
    ]  # fmt: skip
    assert scan_dataset(target).version != manifest.version

    mtime = (target / "lineage.json").stat().st_mtime_ns
    assert (
        build_version(settings, manifest, chosen, project_id=7) == target
    )  # same reviews → same folder, not rewritten
    assert (target / "lineage.json").stat().st_mtime_ns == mtime
    assert old.annotation_id not in lineage["review_ids"]


def test_a_half_written_cache_line_is_ignored(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    review = _review(settings, "v1", "synth_000", 0, np.zeros((2, 2), bool), 9, "t")
    with (reviews.cache_dir(settings, "v1") / reviews.CACHE_INDEX).open("a") as f:
        f.write('{"task_id": 10, "annot')
    assert [r.annotation_id for r in reviews.cached_reviews(settings, "v1")] == [review.annotation_id]


@pytest.mark.parametrize("folder", ["d", "a-folder-name-far-longer-than-label-studio-allows-in-a-title"])
def test_project_titles_fit_label_studio_and_keep_the_version(tmp_path: Path, folder: str) -> None:
    root = tmp_path / folder
    write_dataset(root, n=1, config=get_preset("small"), seed=0)
    manifest = scan_dataset(root)
    title = project_title(manifest)
    assert len(title) <= 50 and title.startswith("minivess ") and title.endswith(f" {manifest.version}")
    assert ("…" in title) == (len(folder) > 50 - len("minivess  ") - len(manifest.version))


def test_a_line_appended_after_a_half_written_one_is_kept(tmp_path: Path) -> None:
    index = tmp_path / "reviews.jsonl"
    index.write_text('{"task_id": 1, "annotation_id": 2, "annot')  # a crash mid-line
    reviews.append_line(index, '{"ok": 1}')
    reviews.append_line(index, '{"ok": 2}')
    lines = index.read_text().splitlines()
    assert lines[1:] == ['{"ok": 1}', '{"ok": 2}'] and json.loads(lines[2]) == {"ok": 2}


def test_stale_half_built_versions_are_removed_live_ones_kept(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f".d-reviewed-abc.tmp-{gone.stdout.strip()}"
    live = tmp_path / f".d-reviewed-def.tmp-{os.getpid()}"
    for folder in (dead, live):
        (folder / "seg").mkdir(parents=True)
    reviews.remove_stale_builds(tmp_path)
    assert not dead.exists() and live.exists()
