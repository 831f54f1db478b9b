"""Run a Pandera schema over one DataFrame and say, in plain lines, which column failed which check on which rows.

Shared by the dataset-manifest and warehouse schemas. Pandera (and pandas) load only when a check runs, so
importing a pipeline module keeps `minivess --help` fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

MAX_ROWS_SHOWN = 3
_MULTI_UNIQUE = "multiple_fields_uniqueness"


def finite_check(name: str = "finite") -> pa.Check:
    """A check that every non-null value is a finite number (no NaN, no ±inf); nulls are left to ``nullable``.

    Nullable (masked) float columns keep a real NaN apart from a null, so a NULL metric passes and a NaN fails.
    """
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

    def finite(series: pd.Series) -> pd.Series:
        return pd.Series(np.isfinite(series.to_numpy(dtype=float, na_value=0.0)), index=series.index)

    return pa.Check(finite, name=name)  # no ``error=``: pandera would report that text instead of the name


def check_frame(
    schema: pa.DataFrameSchema,
    frame: pd.DataFrame,
    *,
    row_label: str | None = None,
    hints: Mapping[str, str] | None = None,
) -> list[str]:
    """Validate ``frame`` against ``schema`` collecting every failure (``lazy=True``).

    Args:
        schema: The Pandera schema.
        frame: The rows to check (any index; rows are named by ``row_label`` where it has a value).
        row_label: Column whose value names a bad row (e.g. ``id``); default: the row's position.
        hints: Column name → what to do when that column fails, appended to its line.

    Returns:
        One line per (column, check) that failed, naming the first bad rows and values; empty when valid.
    """
    import pandera.errors as pe

    try:
        schema.validate(frame, lazy=True)
    except pe.SchemaErrors as exc:
        return _failure_lines(exc.failure_cases, frame, row_label, hints or {})
    except pe.SchemaError as exc:  # not collected lazily (e.g. the frame itself is unusable)
        return [f"{exc.column_name or schema.name}: {exc}"]
    return []


def _failure_lines(
    cases: pd.DataFrame, frame: pd.DataFrame, row_label: str | None, hints: Mapping[str, str]
) -> list[str]:
    namer = _row_namer(frame, row_label)
    lines: list[str] = []
    multi = cases[cases["check"] == _MULTI_UNIQUE]
    if len(multi):
        columns = ", ".join(dict.fromkeys(str(c) for c in multi["column"]))
        rows = sorted({i for i in multi["index"] if i is not None}, key=str)
        lines.append(f"columns ({columns}) must be unique together; repeated at {_rows(rows, namer)}.")
    for (column, check), group in cases[cases["check"] != _MULTI_UNIQUE].groupby(
        ["column", "check"], sort=False, dropna=False
    ):
        shown = list(
            dict.fromkeys(
                _show(value)
                if index is None
                else namer(index)
                if column == row_label
                else f"{namer(index)} ({_show(value)})"
                for index, value in zip(group["index"], group["failure_case"], strict=True)
            )
        )
        more = f" and {len(shown) - MAX_ROWS_SHOWN} more" if len(shown) > MAX_ROWS_SHOWN else ""
        hint = f" {hints[str(column)]}" if str(column) in hints else ""
        lines.append(f"column '{column}' failed {check}: {', '.join(shown[:MAX_ROWS_SHOWN])}{more}.{hint}")
    return lines


def _row_namer(frame: pd.DataFrame, row_label: str | None) -> Callable[[Any], str]:
    def name(index: Any) -> str:
        if row_label is not None and row_label in frame.columns and index in frame.index:
            value = frame.at[index, row_label]
            if isinstance(value, str) and value:
                return f"{row_label}={value}"
        return f"row {index}"

    return name


def _show(value: Any) -> str:
    """A failing value as Python writes it: ``nan``, not ``np.float64(nan)``."""
    return repr(value.item() if type(value).__module__ == "numpy" else value)


def _rows(indices: list[Any], namer: Callable[[Any], str]) -> str:
    names = list(dict.fromkeys(namer(i) for i in indices))
    more = f" and {len(names) - MAX_ROWS_SHOWN} more" if len(names) > MAX_ROWS_SHOWN else ""
    return ", ".join(names[:MAX_ROWS_SHOWN]) + more
