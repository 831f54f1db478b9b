"""Export tabular answers as CSV, JSON or Parquet."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from minivess.errors import AnalyticsError

logger = logging.getLogger(__name__)

ExportFormat = Literal["csv", "json", "parquet"]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def records_text(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Literal["csv", "json"]) -> str:
    """Rows as CSV (with a header) or as a JSON list of objects.

    Args:
        columns: Column names.
        rows: Row values, in column order.
        fmt: ``csv`` or ``json``.
    """
    if fmt == "json":
        return json.dumps([dict(zip(columns, map(_jsonable, row), strict=True)) for row in rows], indent=2)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def write_records(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: ExportFormat, path: Path) -> Path:
    """Write rows to a file in the given format (Parquet through pyarrow).

    Raises:
        AnalyticsError: The file cannot be written or the values do not fit one Parquet type per column.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt != "parquet":
        path.write_text(records_text(columns, rows, fmt), encoding="utf-8")
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = []
    for i in range(len(columns)):
        values = [row[i] for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed types in one column: store that column as text rather than failing the export.
            arrays.append(pa.array([None if v is None else str(v) for v in values], type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=list(columns))
    try:
        pq.write_table(table, path)
    except OSError as exc:
        raise AnalyticsError(f"Cannot write {path}: {exc}.") from exc
    logger.info("wrote %d rows to %s", len(rows), path)
    return path
