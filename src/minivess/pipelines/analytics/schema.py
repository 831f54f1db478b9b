"""The warehouse schema: one definition drives the DDL, the SQL guard's allow-list and describe()."""

from __future__ import annotations

from typing import Final, NamedTuple

from pydantic import BaseModel, Field

SCHEMA_VERSION: Final = 1

# Internal bookkeeping tables: never offered to SQL users (not in the allow-list).
STATE_TABLE: Final = "_minivess_sync_state"
FINGERPRINT_TABLE: Final = "_minivess_run_fingerprints"
PARAMS_WIDE_VIEW: Final = "params_wide"
LABEL_ISSUES_TABLE: Final = "label_issues"
COMPACT_MAX_COLUMNS: Final = 40  # per table in a refusal; params_wide has one column per param key


class Column(NamedTuple):
    """One warehouse column: name, DuckDB type and what it means."""

    name: str
    type: str
    meaning: str


class Table(NamedTuple):
    """One warehouse table: name, one-line meaning and its columns."""

    name: str
    meaning: str
    columns: tuple[Column, ...]


_RUN_ID = Column("run_id", "VARCHAR", "MLflow run id (32 hex chars); joins every run-level table")

TABLES: Final[tuple[Table, ...]] = (
    Table(
        "experiments",
        "MLflow experiments (one row each)",
        (
            Column("experiment_id", "VARCHAR", "MLflow experiment id"),
            Column("name", "VARCHAR", "experiment name"),
            Column("artifact_location", "VARCHAR", "root URI of the experiment's artifacts"),
            Column("lifecycle_stage", "VARCHAR", "'active' or 'deleted'"),
            Column("creation_time", "TIMESTAMP", "creation time (UTC)"),
            Column("last_update_time", "TIMESTAMP", "last update time (UTC)"),
        ),
    ),
    Table(
        "runs",
        "MLflow runs (one row each), with the minivess tags lifted into columns",
        (
            _RUN_ID,
            Column("experiment_id", "VARCHAR", "experiment the run belongs to"),
            Column("experiment_name", "VARCHAR", "that experiment's name"),
            Column("run_name", "VARCHAR", "human-readable run name"),
            Column("status", "VARCHAR", "RUNNING, SCHEDULED, FINISHED, FAILED or KILLED"),
            Column("lifecycle_stage", "VARCHAR", "'active' or 'deleted' (deleted runs are kept but flagged)"),
            Column("user_id", "VARCHAR", "user who started the run"),
            Column("start_time", "TIMESTAMP", "start time (UTC)"),
            Column("end_time", "TIMESTAMP", "end time (UTC); NULL while running"),
            Column("duration_s", "DOUBLE", "end_time - start_time in seconds; NULL while running"),
            Column("model_family", "VARCHAR", "tag minivess.model_family: segresnet, swinunetr, dynunet …"),
            Column("loss", "VARCHAR", "tag minivess.loss, e.g. dice_ce or dice_ce_cldice"),
            Column("run_kind", "VARCHAR", "tag minivess.run_kind: train or evaluate"),
            Column("error", "VARCHAR", "tag minivess.error on FAILED runs: '<ExceptionType>: message'"),
            Column("artifact_uri", "VARCHAR", "where the run's artifacts live"),
        ),
    ),
    Table(
        "params",
        "run parameters, long form: the flattened config with dotted keys (model.name, optim.lr …)",
        (
            _RUN_ID,
            Column("key", "VARCHAR", "parameter name, e.g. 'optim.lr'"),
            Column("value", "VARCHAR", "value as logged (text)"),
            Column("value_num", "DOUBLE", "value as a number when it parses as one, else NULL"),
        ),
    ),
    Table(
        "tags",
        "run tags (key/value), including mlflow.* system tags",
        (
            _RUN_ID,
            Column("key", "VARCHAR", "tag name, e.g. 'minivess.model_family'"),
            Column("value", "VARCHAR", "tag value"),
        ),
    ),
    Table(
        "metrics",
        "full metric histories: one row per logged value (step = epoch, 1-based, for per-epoch metrics)",
        (
            _RUN_ID,
            Column("key", "VARCHAR", "metric name, e.g. 'val_dice', 'train_loss'"),
            Column("step", "BIGINT", "step (the epoch for per-epoch metrics)"),
            Column("timestamp", "TIMESTAMP", "when the value was logged (UTC)"),
            Column("value", "DOUBLE", "the value; NULL where MLflow stored NaN"),
        ),
    ),
    Table(
        "metric_summary",
        "one row per (run, metric): best and last value; best respects the metric's direction",
        (
            _RUN_ID,
            Column("key", "VARCHAR", "metric name"),
            Column(
                "direction",
                "VARCHAR",
                "'min' for lower-is-better metrics (losses, hd95, seconds), else 'max'",
            ),
            Column("best_value", "DOUBLE", "best value over all steps in that direction"),
            Column("best_step", "BIGINT", "step (epoch) where the best value was first reached"),
            Column("best_timestamp", "TIMESTAMP", "when the best value was logged"),
            Column("last_value", "DOUBLE", "latest value (highest step, then latest timestamp), as MLflow shows"),
            Column("last_step", "BIGINT", "step of the latest value"),
            Column("min_value", "DOUBLE", "smallest value"),
            Column("min_step", "BIGINT", "first step with the smallest value"),
            Column("max_value", "DOUBLE", "largest value"),
            Column("max_step", "BIGINT", "first step with the largest value"),
            Column("n_values", "BIGINT", "how many values were logged (NaN included)"),
        ),
    ),
    Table(
        "registered_models",
        "MLflow model registry: registered models",
        (
            Column("name", "VARCHAR", "registered model name, e.g. 'minivess-segmenter'"),
            Column("description", "VARCHAR", "description"),
            Column("creation_time", "TIMESTAMP", "creation time (UTC)"),
            Column("last_updated_time", "TIMESTAMP", "last update time (UTC)"),
        ),
    ),
    Table(
        "model_versions",
        "MLflow model registry: versions of registered models",
        (
            Column("name", "VARCHAR", "registered model name"),
            Column("version", "BIGINT", "version number"),
            _RUN_ID._replace(meaning="run that produced this version (join runs.run_id)"),
            Column("source", "VARCHAR", "model source URI"),
            Column("status", "VARCHAR", "READY, PENDING_REGISTRATION or FAILED_REGISTRATION"),
            Column("stage", "VARCHAR", "legacy stage (None, Staging, Production, Archived)"),
            Column("description", "VARCHAR", "description"),
            Column("creation_time", "TIMESTAMP", "creation time (UTC)"),
            Column("last_updated_time", "TIMESTAMP", "last update time (UTC)"),
        ),
    ),
    Table(
        "model_aliases",
        "MLflow model registry: aliases such as 'champion' and 'challenger'",
        (
            Column("name", "VARCHAR", "registered model name"),
            Column("alias", "VARCHAR", "alias, e.g. 'champion'"),
            Column("version", "BIGINT", "version the alias points at (join model_versions)"),
        ),
    ),
    Table(
        LABEL_ISSUES_TABLE,
        "cleanlab label-quality score of every 2-D slice (from `minivess labels find`), one row per "
        "(dataset_version, volume_id, axis, slice_index); not an MLflow table",
        (
            Column("dataset_version", "VARCHAR", "dataset manifest version the slices were scored on"),
            Column("rank", "BIGINT", "1 = most likely mislabelled within that dataset version"),
            Column("volume_id", "VARCHAR", "volume id (file name without .nii.gz)"),
            Column("axis", "BIGINT", "array axis the slice is cut along (2 = Z)"),
            Column("slice_index", "BIGINT", "slice index along that axis in the file's array"),
            Column("score", "DOUBLE", "cleanlab softmin label quality in [0, 1]; lower = more likely wrong"),
            Column("suspicious_fraction", "DOUBLE", "share of the slice's pixels cleanlab flags as mislabelled"),
            Column("suspicious_pixels", "BIGINT", "pixels cleanlab flags (after any downsampling)"),
            Column("pixels", "BIGINT", "pixels scored (after any downsampling)"),
            Column("downsample", "BIGINT", "in-plane shrink factor applied before scoring (1 = none)"),
            Column("label_fraction", "DOUBLE", "share of the slice labelled vessel"),
        ),
    ),
)

PARAMS_WIDE_MEANING: Final = (
    "one row per run, one column per parameter key, typed (BOOLEAN, BIGINT, DOUBLE or VARCHAR) from the "
    'values seen; quote dotted names: SELECT run_id, "optim.lr" FROM params_wide'
)

STATE_DDL: Final = (
    f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (key VARCHAR, value VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (run_id VARCHAR, fingerprint VARCHAR)",
)


def table_ddl(table: Table) -> str:
    """The CREATE TABLE statement of one warehouse table (no keys: bulk loads stay fast)."""
    columns = ", ".join(f"{c.name} {c.type}" for c in table.columns)
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({columns})"


def public_names() -> frozenset[str]:
    """Names (lower case) a guarded query may read: the tables plus the params_wide view."""
    return frozenset({t.name for t in TABLES} | {PARAMS_WIDE_VIEW})


class ColumnInfo(BaseModel):
    """One column as described to a prompt."""

    name: str
    type: str
    meaning: str


class TableInfo(BaseModel):
    """One table or view as described to a prompt."""

    name: str
    meaning: str
    columns: list[ColumnInfo] = Field(default_factory=list)


class WarehouseSchema(BaseModel):
    """The schema a model may query, with column meanings and the guard's rules in short."""

    tables: list[TableInfo]
    rules: list[str]

    def as_text(self) -> str:
        """A compact text form for prompts and error messages."""
        lines: list[str] = []
        for table in self.tables:
            lines.append(f"{table.name} -- {table.meaning}")
            lines.extend(f"  {c.name} {c.type}: {c.meaning}" for c in table.columns)
        return "\n".join(lines)

    def as_compact_text(self, max_columns: int = COMPACT_MAX_COLUMNS) -> str:
        """One line per table, ``name(col, col, …)``: what a model needs to fix a query, without meanings."""
        lines: list[str] = []
        for table in self.tables:
            names = [c.name if c.name.isidentifier() else quote_identifier(c.name) for c in table.columns]
            more = f", … {len(names) - max_columns} more" if len(names) > max_columns else ""
            lines.append(f"{table.name}({', '.join(names[:max_columns])}{more})")
        return "\n".join(lines)


def quote_identifier(name: str) -> str:
    """Quote any string as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote any string as a DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"
