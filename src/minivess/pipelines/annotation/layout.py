"""Where the annotation loop keeps its files under the home, and the label-issue table's columns (no heavy imports:
the analytics warehouse reads these)."""

from __future__ import annotations

from typing import Final

ANNOTATION_DIR: Final = "annotation"
ISSUE_TABLE_FILE: Final = "label_issues.parquet"

#: Parquet column types of the label-issue table (DuckDB reads them as BIGINT, VARCHAR, DOUBLE).
ISSUE_COLUMN_TYPES: Final = {
    "rank": "int64", "volume_id": "string", "axis": "int64", "slice_index": "int64", "score": "float64",
    "suspicious_fraction": "float64", "suspicious_pixels": "int64", "pixels": "int64", "downsample": "int64",
    "label_fraction": "float64",
}  # fmt: skip
ISSUE_COLUMNS: Final = tuple(ISSUE_COLUMN_TYPES)
