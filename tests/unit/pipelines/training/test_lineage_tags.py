"""Training on a reviewed dataset version tags its lineage; a long review list is summarised (MLflow caps tags)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from minivess.errors import TrainingError
from minivess.pipelines.tracking import naming
from minivess.pipelines.training.engine import lineage_tags


def _lineage(folder: Path, ids: list[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / naming.LINEAGE_FILE).write_text(json.dumps({"parent_version": "abc123", "review_ids": ids}))
    return folder


def test_no_lineage_no_tags(tmp_path: Path) -> None:
    assert lineage_tags(tmp_path) == {}


def test_short_lists_are_tagged_in_full(tmp_path: Path) -> None:
    tags = lineage_tags(_lineage(tmp_path, [3, 1, 2]))
    assert tags == {naming.TAG_PARENT_DATA_VERSION: "abc123", naming.TAG_REVIEW_IDS: "3,1,2"}


def test_long_lists_are_summarised_within_the_tag_limit(tmp_path: Path) -> None:
    ids = list(range(100_000, 102_000))  # 2,000 reviews: ~14,000 characters joined
    tag = lineage_tags(_lineage(tmp_path, ids))[naming.TAG_REVIEW_IDS]
    assert len(tag) <= naming.MAX_REVIEW_IDS_TAG and tag.startswith("2000 reviews, sha256 ")
    other = lineage_tags(_lineage(tmp_path / "b", [*ids[:-1], 1]))[naming.TAG_REVIEW_IDS]
    assert other != tag  # the digest tells review sets apart


def test_a_broken_lineage_is_a_training_error(tmp_path: Path) -> None:
    (tmp_path / naming.LINEAGE_FILE).write_text("{not json")
    with pytest.raises(TrainingError, match="not a readable dataset lineage"):
        lineage_tags(tmp_path)
