"""cleanlab slice label-quality scores: ranking, batching invariance, agreement with cleanlab, table round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from minivess.errors import DataError
from minivess.pipelines.annotation.label_issues import (
    SliceIssue,
    _block_mean,
    issue_table_path,
    load_issue_table,
    save_issue_table,
    slice_label_issues,
)
from minivess.settings import Settings

SHAPE = (16, 16, 6)


def _volume(seed: int, corrupt: int | None = None) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """A bar of vessel through every slice; the model is confident and right; optionally one slice's label wrong."""
    rng = np.random.default_rng(seed)
    label = np.zeros(SHAPE, dtype=np.uint8)
    label[5:10, 4:12, :] = 1
    probs = np.where(label == 1, 0.9, 0.1) + rng.uniform(-0.05, 0.05, SHAPE)
    if corrupt is not None:
        label[5:10, 4:12, corrupt] = 0  # the vessel was missed on this slice
    return probs.astype(np.float32), label


def _by_key(rows: list[SliceIssue]) -> dict[tuple[str, int], SliceIssue]:
    return {(r.volume_id, r.slice_index): r for r in rows}


def test_the_corrupted_slice_ranks_first_and_only_it_is_flagged() -> None:
    clean_p, clean_y = _volume(0)
    bad_p, bad_y = _volume(1, corrupt=3)
    rows = slice_label_issues({"a": clean_p, "b": bad_p}, {"a": clean_y, "b": bad_y})

    assert [r.rank for r in rows] == list(range(1, 13))
    assert (rows[0].volume_id, rows[0].slice_index, rows[0].axis) == ("b", 3, 2)
    assert rows[0].score < 0.2 < min(r.score for r in rows[1:])
    # Confident learning counts only wrong pixels the model is at least as sure of as it is, on average, of
    # pixels labelled that class (~0.9 here): about half of the 40 missed pixels.
    assert 0 < rows[0].suspicious_pixels <= 40
    assert rows[0].suspicious_fraction == pytest.approx(rows[0].suspicious_pixels / 256)
    assert all(r.suspicious_pixels == 0 for r in rows[1:])
    assert rows[0].pixels == 256 and rows[0].downsample == 1 and rows[0].label_fraction == 0.0


def test_batching_does_not_change_scores_or_flags() -> None:
    rng = np.random.default_rng(7)
    probs = {f"v{i}": rng.uniform(0, 1, SHAPE).astype(np.float32) for i in range(3)}
    labels = {k: (rng.uniform(0, 1, SHAPE) < p).astype(np.uint8) for k, p in probs.items()}
    one = _by_key(slice_label_issues(probs, labels, batch_slices=1))
    many = _by_key(slice_label_issues(probs, labels, batch_slices=64))
    assert one == many


def test_matches_cleanlab_on_the_whole_array() -> None:
    from cleanlab.segmentation.filter import find_label_issues
    from cleanlab.segmentation.rank import get_label_quality_scores

    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, SHAPE)
    y = (rng.uniform(0, 1, SHAPE) < 0.3 + 0.4 * p).astype(np.int64)
    rows = _by_key(slice_label_issues({"v": p}, {"v": y}, batch_slices=4))

    slices_y = np.moveaxis(y, 2, 0)
    slices_p = np.stack([1 - np.moveaxis(p, 2, 0), np.moveaxis(p, 2, 0)], axis=1).astype(np.float32)
    scores, _ = get_label_quality_scores(slices_y, slices_p, method="softmin", verbose=False)
    flagged = find_label_issues(slices_y, slices_p, n_jobs=1, verbose=False).sum(axis=(1, 2))
    assert flagged.sum() > 0
    for z in range(SHAPE[2]):
        assert rows["v", z].score == pytest.approx(float(scores[z]), rel=1e-6)
        assert rows["v", z].suspicious_pixels == int(flagged[z])


def test_slices_along_another_axis() -> None:
    p, y = _volume(0)
    rows = slice_label_issues({"v": p}, {"v": y}, axis=0)
    assert sorted(r.slice_index for r in rows) == list(range(SHAPE[0]))
    assert {r.axis for r in rows} == {0} and {r.pixels for r in rows} == {SHAPE[1] * SHAPE[2]}


def test_large_slices_are_downsampled() -> None:
    p, y = _volume(1, corrupt=2)
    rows = slice_label_issues({"v": p}, {"v": y}, max_side=7)  # 16 px → factor 3 → 6×6
    assert {(r.downsample, r.pixels) for r in rows} == {(3, 36)}
    assert rows[0].slice_index == 2


def test_block_mean_averages_partial_edge_blocks_over_real_pixels() -> None:
    x = np.arange(15, dtype=np.float32).reshape(1, 3, 5)
    out = _block_mean(x, 2)
    assert out.shape == (1, 2, 3)
    np.testing.assert_allclose(out[0], [[3, 5, 6.5], [10.5, 12.5, 14]])


@pytest.mark.parametrize(
    ("probs", "labels", "kwargs", "match"),
    [
        (np.full(SHAPE, 0.5), np.zeros((16, 16, 5)), {}, "same 3-D shape"),
        (np.full(SHAPE, 1.5), np.zeros(SHAPE), {}, r"in \[0, 1\]"),
        (np.full(SHAPE, np.nan), np.zeros(SHAPE), {}, r"in \[0, 1\]"),
        (np.full(SHAPE, 0.5), np.full(SHAPE, 2), {}, "binary"),
        (np.full(SHAPE, 0.5), np.zeros(SHAPE), {"axis": 3}, "axis"),
        (np.full(SHAPE, 0.5), np.zeros(SHAPE), {"batch_slices": 0}, "batch_slices"),
        (np.full(SHAPE, 0.5), np.zeros(SHAPE), {"softmin_temperature": 0.0}, "temperature"),
    ],
)
def test_bad_input_is_a_value_error(
    probs: NDArray[np.float64], labels: NDArray[np.float64], kwargs: dict[str, int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        slice_label_issues({"v": probs}, {"v": labels}, **kwargs)  # type: ignore[arg-type]


def test_missing_labels_or_volumes_are_value_errors() -> None:
    with pytest.raises(ValueError, match="no labels"):
        slice_label_issues({"v": np.zeros(SHAPE)}, {})
    with pytest.raises(ValueError, match="no volumes"):
        slice_label_issues({}, {})


def test_table_round_trip_under_the_home(tmp_path: Path) -> None:
    p, y = _volume(1, corrupt=4)
    rows = slice_label_issues({"synth_000": p}, {"synth_000": y})
    path = issue_table_path(Settings(home=tmp_path), "abc123")
    assert path == tmp_path / "annotation" / "abc123" / "label_issues.parquet"

    save_issue_table(path, list(reversed(rows)), {"dataset_version": "abc123"})
    assert load_issue_table(path) == rows

    import pyarrow.parquet as pq

    assert pq.read_schema(path).metadata[b"minivess.dataset_version"] == b"abc123"


def test_unreadable_table_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="labels find"):
        load_issue_table(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError):
        load_issue_table(tmp_path / "junk.parquet")
