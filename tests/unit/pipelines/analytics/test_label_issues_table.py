"""The warehouse's label_issues table: loaded from HOME/annotation/*/label_issues.parquet at sync, kept fresh."""

from __future__ import annotations

from pathlib import Path

from minivess.pipelines.analytics import Warehouse, run_sql
from minivess.pipelines.analytics.schema import LABEL_ISSUES_TABLE, TABLES
from minivess.pipelines.annotation.label_issues import SliceIssue, issue_table_path, save_issue_table
from minivess.pipelines.annotation.layout import ISSUE_COLUMNS
from minivess.settings import Settings
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo


def _rows(n: int, volume: str = "synth_000") -> list[SliceIssue]:
    return [
        SliceIssue(
            rank=i + 1, volume_id=volume, axis=2, slice_index=i, score=0.1 * (i + 1), suspicious_fraction=0.01,
            suspicious_pixels=3, pixels=300, downsample=1, label_fraction=0.05,
        )
        for i in range(n)
    ]  # fmt: skip


def test_the_table_columns_are_the_parquet_columns() -> None:
    table = next(t for t in TABLES if t.name == LABEL_ISSUES_TABLE)
    assert tuple(c.name for c in table.columns) == ("dataset_version", *ISSUE_COLUMNS)


def test_sync_loads_every_version_and_refreshes_when_a_table_changes(store: StoreInfo, minivess_home: Path) -> None:
    settings = Settings()
    save_issue_table(issue_table_path(settings, "v1"), _rows(3))
    save_issue_table(issue_table_path(settings, "v2"), _rows(2, "synth_001"))
    (minivess_home / "annotation" / "v3").mkdir(parents=True)
    (minivess_home / "annotation" / "v3" / "label_issues.parquet").write_bytes(b"broken")  # skipped, not fatal
    wh = Warehouse()
    wh.sync()
    result = run_sql(
        "SELECT dataset_version, count(*), min(score) FROM label_issues GROUP BY 1 ORDER BY 1", warehouse=wh
    )
    assert result.rows == [["v1", 3, 0.1], ["v2", 2, 0.1]]
    assert not wh.needs_sync()

    save_issue_table(issue_table_path(settings, "v1"), _rows(5))  # MLflow unchanged, the table rewritten
    assert wh.needs_sync()
    report = wh.sync()
    assert not report.skipped and report.runs_processed == 0
    top = run_sql(
        "SELECT volume_id, slice_index FROM label_issues WHERE dataset_version = 'v1' AND rank = 1", warehouse=wh
    )
    assert top.rows == [["synth_000", 0]]
    assert run_sql("SELECT count(*) FROM label_issues", warehouse=wh).rows == [[7]]

    issue_table_path(settings, "v2").unlink()
    assert wh.needs_sync()
    assert run_sql("SELECT count(*) FROM label_issues", warehouse=wh).rows == [[5]]  # auto-synced
