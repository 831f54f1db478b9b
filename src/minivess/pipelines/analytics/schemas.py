"""Pandera schemas of the warehouse tables, checked on the rows each sync wrote before it commits.

Column names and types come from ``schema.TABLES`` (the one definition of the warehouse); this module adds
what the DDL cannot say: keys that must be set and unique, MLflow's fixed vocabularies, finite numbers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics.schema import LABEL_ISSUES_TABLE, TABLES, Table, quote_identifier
from minivess.pipelines.frames import check_frame, finite_check

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pandera.pandas as pa

RUN_ID_PATTERN: Final = r"^[0-9a-f]{32}$"  # MLflow run ids are uuid4().hex
RUN_STATUSES: Final = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
LIFECYCLE_STAGES: Final = ("active", "deleted")
VERSION_STATUSES: Final = ("READY", "PENDING_REGISTRATION", "FAILED_REGISTRATION")
# Tables holding rows of individual runs: a sync checks only the runs it rewrote.
RUN_SCOPED: Final = frozenset({"runs", "params", "tags", "metrics", "metric_summary"})

_DTYPES: Final = {"VARCHAR": "str", "DOUBLE": "Float64", "BIGINT": "Int64", "TIMESTAMP": "datetime64[us]"}
_STAGE: Final = "_schema_check_ids"


@dataclass(frozen=True)
class Rules:
    """What one table must satisfy beyond its column types."""

    required: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    finite: tuple[str, ...] = ()
    isin: dict[str, tuple[str, ...]] = field(default_factory=dict)
    at_least: dict[str, float] = field(default_factory=dict)
    unit_interval: tuple[str, ...] = ()
    pattern: dict[str, str] = field(default_factory=dict)
    row_label: str | None = "run_id"


RULES: Final[dict[str, Rules]] = {
    "experiments": Rules(
        required=("experiment_id", "name"),
        unique=("experiment_id",),
        isin={"lifecycle_stage": LIFECYCLE_STAGES},
        row_label="experiment_id",
    ),
    "runs": Rules(
        required=("run_id", "experiment_id", "status", "lifecycle_stage"),
        unique=("run_id",),
        finite=("duration_s",),
        isin={"status": RUN_STATUSES, "lifecycle_stage": LIFECYCLE_STAGES},
        pattern={"run_id": RUN_ID_PATTERN},
    ),
    "params": Rules(required=("run_id", "key"), unique=("run_id", "key")),
    "tags": Rules(required=("run_id", "key"), unique=("run_id", "key")),
    "metrics": Rules(required=("run_id", "key", "step", "timestamp"), finite=("value",)),
    "metric_summary": Rules(
        required=("run_id", "key", "direction", "n_values"),
        unique=("run_id", "key"),
        finite=("best_value", "last_value", "min_value", "max_value"),
        isin={"direction": ("min", "max")},
        at_least={"n_values": 1},
    ),
    "registered_models": Rules(required=("name",), unique=("name",), row_label="name"),
    "model_versions": Rules(
        required=("name", "version"),
        unique=("name", "version"),
        isin={"status": VERSION_STATUSES},
        at_least={"version": 1},
        row_label="name",
    ),
    "model_aliases": Rules(
        required=("name", "alias", "version"), unique=("name", "alias"), at_least={"version": 1}, row_label="name"
    ),
    LABEL_ISSUES_TABLE: Rules(
        required=("dataset_version", "volume_id", "axis", "slice_index", "score"),
        unique=("dataset_version", "volume_id", "axis", "slice_index"),
        finite=("score", "suspicious_fraction", "label_fraction"),
        at_least={"rank": 1, "axis": 0, "slice_index": 0, "suspicious_pixels": 0, "pixels": 1, "downsample": 1},
        unit_interval=("score", "suspicious_fraction", "label_fraction"),
        row_label="volume_id",
    ),
}

HINTS: Final = {
    LABEL_ISSUES_TABLE: "Score the slices again (`minivess labels find`) to rewrite that label-issue table.",
}
DEFAULT_HINT: Final = (
    "A sync that fails these checks is rolled back (the warehouse keeps its previous state). Run "
    "`minivess runs sync --full`; if the error stays, the tracking store holds rows MLflow would not write."
)


def table_schema(table: Table) -> pa.DataFrameSchema:
    """The Pandera schema of one warehouse table: its columns' types from the DDL plus its ``RULES``."""
    import pandera.pandas as pa

    rules = RULES.get(table.name, Rules())
    columns: dict[str, pa.Column] = {
        c.name: pa.Column(
            _DTYPES[c.type],
            _checks(c.name, rules),
            nullable=c.name not in rules.required,
            unique=rules.unique == (c.name,),
        )
        for c in table.columns
    }
    unique = list(rules.unique) if len(rules.unique) > 1 else None
    return pa.DataFrameSchema(columns, strict=True, ordered=True, unique=unique, name=table.name)


def _checks(name: str, rules: Rules) -> list[pa.Check]:
    import pandera.pandas as pa

    checks: list[pa.Check] = []
    if name in rules.finite:
        checks.append(finite_check())
    if name in rules.isin:
        checks.append(pa.Check.isin(list(rules.isin[name])))
    if name in rules.at_least:
        checks.append(pa.Check.ge(rules.at_least[name]))
    if name in rules.unit_interval:
        checks.append(pa.Check.in_range(0.0, 1.0))
    if name in rules.pattern:
        checks.append(pa.Check.str_matches(rules.pattern[name]))
    return checks


def table_problems(table: Table, frame: pd.DataFrame) -> list[str]:
    """Every failure of ``frame`` against ``table``'s schema, one line per column and check."""
    rules = RULES.get(table.name, Rules())
    return check_frame(table_schema(table), frame, row_label=rules.row_label)


def read_table(con: duckdb.DuckDBPyConnection, table: Table, run_ids: Collection[str] | None = None) -> pd.DataFrame:
    """One warehouse table as a DataFrame with nullable numbers (a NULL stays apart from a NaN).

    Args:
        con: An open connection (inside the sync's transaction, so it sees the rows not yet committed).
        table: The table.
        run_ids: Only these runs' rows (run-scoped tables only); None: every row.

    Returns:
        The rows, DOUBLE as ``Float64`` and BIGINT as ``Int64`` (masked), TIMESTAMP as ``datetime64[us]``.
    """
    import pandas as pd
    import pyarrow

    select = ", ".join(quote_identifier(c.name) for c in table.columns)
    sql = f"SELECT {select} FROM {table.name}"
    scoped = run_ids is not None and table.name in RUN_SCOPED
    if scoped:
        ids = pyarrow.array(sorted(run_ids or ()), type=pyarrow.string())
        con.register(_STAGE, pyarrow.table({"run_id": ids}))
        sql += f" WHERE run_id IN (SELECT run_id FROM {_STAGE})"
    try:
        arrow = con.sql(sql).to_arrow_table()
    finally:
        if scoped:
            con.unregister(_STAGE)
    mapping: dict[Any, Any] = {pyarrow.float64(): pd.Float64Dtype(), pyarrow.int64(): pd.Int64Dtype()}
    return arrow.to_pandas(types_mapper=mapping.get)


def validate_warehouse(
    con: duckdb.DuckDBPyConnection, run_ids: Collection[str] | None = None, *, tables: Collection[str] | None = None
) -> None:
    """Check the warehouse tables (one DataFrame each, every failure collected).

    Args:
        con: An open connection.
        run_ids: Check only these runs' rows in the run tables (what a sync rewrote); None: every row.
        tables: Only these tables; default all of ``schema.TABLES``.

    Raises:
        AnalyticsError: names each table, column and check that failed with the first bad rows.
    """
    problems: list[str] = []
    hints: list[str] = []
    for table in TABLES:
        if tables is not None and table.name not in tables:
            continue
        if run_ids is not None and not run_ids and table.name in RUN_SCOPED:
            continue
        lines = table_problems(table, read_table(con, table, run_ids))
        problems.extend(f"table '{table.name}': {line}" for line in lines)
        if lines:
            hints.append(HINTS.get(table.name, DEFAULT_HINT))
    if problems:
        raise AnalyticsError(
            f"the warehouse failed {len(problems)} schema check(s):\n- "
            + "\n- ".join(problems)
            + "\n"
            + " ".join(dict.fromkeys(hints))
        )
