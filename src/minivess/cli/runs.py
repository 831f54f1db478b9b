"""`minivess runs …`: sync the DuckDB warehouse of MLflow runs and query it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.pipelines.analytics.limits import DEFAULT_ROW_CAP, DEFAULT_TIMEOUT_S
from minivess.pipelines.tracking import naming

if TYPE_CHECKING:  # DuckDB and pyarrow load when a command runs, not for `minivess --help`
    from minivess.pipelines import analytics as an
    from minivess.pipelines.analytics.export import ExportFormat
    from minivess.pipelines.analytics.models import MetricCell

app = typer.Typer(
    help="Run analytics: a DuckDB warehouse over MLflow runs (leaderboards, comparisons, guarded SQL).",
    no_args_is_help=True,
)


class Source(StrEnum):
    """Where the warehouse reads MLflow from."""

    auto = "auto"
    sqlite = "sqlite"
    client = "client"


class By(StrEnum):
    """Leaderboard grouping."""

    family = "family"
    none = "none"


class Format(StrEnum):
    """Output format."""

    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


_FORMAT = typer.Option(Format.table, "--format", "-f", help="table (rich), csv, json or parquet (needs --output).")
_OUTPUT = typer.Option(None, "--output", "-o", help="Write csv/json/parquet to this file instead of stdout.")


@app.callback()
def runs(
    ctx: typer.Context,
    source: Source = typer.Option(
        Source.auto, "--source", help="auto: read a sqlite:/// store's file directly, else MlflowClient."
    ),
    no_sync: bool = typer.Option(False, "--no-sync", help="Do not auto-sync before answering."),
) -> None:
    """Query MLflow runs through a DuckDB warehouse (synced automatically when the store changed)."""
    ctx.obj = {"source": source.value, "auto_sync": not no_sync}


def _warehouse(ctx: typer.Context) -> an.Warehouse:
    from minivess.pipelines import analytics as an

    return an.Warehouse(source=ctx.obj["source"])


def _check_output(fmt: Format, output: Path | None) -> None:
    """Refuse format/output combinations before any work is done."""
    if fmt is Format.table and output is not None:
        raise typer.BadParameter("--output needs --format csv, json or parquet.")
    if fmt is Format.parquet and output is None:
        raise typer.BadParameter("--format parquet needs --output FILE.")


def _emit(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format, output: Path | None) -> None:
    """Show rows as a rich table, or export them (stdout or --output)."""
    from minivess.pipelines import analytics as an

    _check_output(fmt, output)
    if fmt is Format.table:
        render.console.print(render.records_table(title, columns, rows))
        return
    if output is not None:
        an.write_records(columns, rows, cast("ExportFormat", fmt.value), output)
        render.note(f"wrote {len(rows)} rows to {output}")
        return
    sys.stdout.write(an.records_text(columns, rows, "json" if fmt is Format.json else "csv"))
    sys.stdout.write("\n" if fmt is Format.json else "")


@app.command()
def sync(
    ctx: typer.Context,
    full: bool = typer.Option(False, "--full", help="Rewrite every run, not only new or changed ones."),
) -> None:
    """Sync the warehouse with the MLflow store now (incremental, one transaction)."""
    from minivess.observability.job_metrics import SYNC_KINDS, JobMetrics

    warehouse = _warehouse(ctx)
    # HOME/metrics/sync-<warehouse>.prom (+ the Pushgateway when configured): rows written, last success
    with JobMetrics("sync", get_settings(), warehouse.path.stem) as metrics:
        report = warehouse.sync(full=full)
        for kind in SYNC_KINDS:
            metrics.inc("minivess_sync_rows_total", getattr(report, kind), kind=kind)
        metrics.set("minivess_sync_runs", report.runs_total)
    render.console.print(render.key_value_table("runs sync", report.model_dump()))


@app.command()
def leaderboard(
    ctx: typer.Context,
    metric: str = typer.Option(naming.METRIC_VAL_DICE, "--metric", "-m", help="Metric to rank by."),
    by: By = typer.Option(By.family, "--by", help="family: best run per model family; none: best runs overall."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Most rows shown."),
    status: list[str] = typer.Option(["FINISHED"], "--status", help="Run statuses that compete (repeatable)."),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only this experiment (name)."),
    fmt: Format = _FORMAT,
    output: Path | None = _OUTPUT,
) -> None:
    """Best runs by a metric's best value over epochs (lower is better for losses and hd95)."""
    from minivess.pipelines import analytics as an

    board = an.leaderboard(
        metric, by=by.value, limit=limit, statuses=status, experiment=experiment,
        warehouse=_warehouse(ctx), auto_sync=ctx.obj["auto_sync"],
    )  # fmt: skip
    columns = ["rank", "family", "run_id", "run_name", f"best {metric}", "epoch", "last", "runs", "minutes"]
    rows = [
        [r.rank, r.run.model_family, r.run.run_id, r.run.run_name, r.best_value, r.best_step, r.last_value,
         r.runs_in_group, None if r.run.duration_s is None else round(r.run.duration_s / 60, 2)]
        for r in board.rows
    ]  # fmt: skip
    arrow = "↓" if board.direction == "min" else "↑"
    _emit(f"leaderboard: {metric} {arrow} (by {by.value})", columns, rows, fmt, output)


@app.command()
def compare(
    ctx: typer.Context,
    runs: list[str] = typer.Argument(..., help="Run ids, id prefixes or run names (two or more to compare)."),
    metric: list[str] = typer.Option([], "--metric", "-m", help="Only these metrics (repeatable)."),
    all_params: bool = typer.Option(False, "--all-params", help="Show equal params too, not only differences."),
    fmt: Format = _FORMAT,
    output: Path | None = _OUTPUT,
) -> None:
    """Params side by side and best/last of each metric for two or more runs (one run: its details)."""
    from minivess.pipelines import analytics as an

    _check_output(fmt, output)
    result = an.compare_runs(
        runs, metrics=metric or None, only_differences=not all_params,
        warehouse=_warehouse(ctx), auto_sync=ctx.obj["auto_sync"],
    )  # fmt: skip
    ids = [r.run_id for r in result.runs]
    names = [r.run_name or r.run_id[:8] for r in result.runs]
    heads = names if len(set(names)) == len(names) else [i[:8] for i in ids]
    if fmt is Format.table:
        params = [[p.key, *(p.values[i] for i in ids), "≠" if p.differs else ""] for p in result.params]
        render.console.print(render.records_table("params", ["param", *heads, "differs"], params))
        metrics = [[m.key, *(_cell_text(m.cells[i], i == m.best_run) for i in ids)] for m in result.metrics]
        _emit("metrics: best @epoch / last", ["metric", *heads], metrics, fmt, output)
        return
    rows: list[list[Any]] = [["param", p.key, *(p.values[i] for i in ids)] for p in result.params]
    for m in result.metrics:
        for field in ("best_value", "best_step", "last_value"):
            rows.append([field, m.key, *(None if m.cells[i] is None else getattr(m.cells[i], field) for i in ids)])
    _emit("compare", ["kind", "key", *ids], rows, fmt, output)


def _cell_text(cell: MetricCell | None, best: bool) -> str:
    if cell is None or cell.best_value is None:
        return ""
    last = "" if cell.last_value is None else f"{cell.last_value:.4g}"
    text = f"{cell.best_value:.4g} @{cell.best_step} / {last}"
    return f"[bold green]{text}[/]" if best else text


@app.command()
def curves(
    ctx: typer.Context,
    runs: list[str] = typer.Argument(..., help="Run ids, id prefixes or run names."),
    metric: list[str] = typer.Option([naming.METRIC_VAL_DICE], "--metric", "-m", help="Metrics (repeatable)."),
    output: Path = typer.Option(Path("learning_curves.png"), "--output", "-o", help="PNG file to write."),
) -> None:
    """Plot learning curves (metric per epoch) of some runs to a PNG."""
    from minivess.pipelines import analytics as an

    history = an.learning_curves(runs, metric, warehouse=_warehouse(ctx), auto_sync=ctx.obj["auto_sync"])
    path = an.plot_learning_curves(history, output)
    render.console.print(f"wrote {path} ({len(history.series)} curves)")


@app.command()
def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="One SELECT statement over the warehouse (see `minivess runs schema`)."),
    limit: int = typer.Option(DEFAULT_ROW_CAP, "--limit", "-n", min=1, max=100_000, help="Row cap."),
    timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout", help="Seconds before it is stopped."),
    fmt: Format = _FORMAT,
    output: Path | None = _OUTPUT,
) -> None:
    """Run one read-only SELECT (guarded: no writes, no files, row cap, timeout)."""
    from minivess.pipelines import analytics as an

    result = an.run_sql(
        query, warehouse=_warehouse(ctx), row_cap=limit, timeout_s=timeout, auto_sync=ctx.obj["auto_sync"]
    )
    _emit("query", result.columns, result.rows, fmt, output)
    if result.truncated:
        render.note(f"truncated: only the first {result.row_cap} rows are shown (raise --limit or aggregate).")


@app.command()
def schema(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table or json."),
) -> None:
    """The warehouse's tables and columns with their meanings, and the SQL rules."""
    from minivess.pipelines import analytics as an

    described = an.describe(_warehouse(ctx))
    if fmt is Format.json:
        sys.stdout.write(described.model_dump_json(indent=2) + "\n")
        return
    for table in described.tables:
        columns = [(c.name, c.type, c.meaning) for c in table.columns]
        render.console.print(render.schema_table(table.name, table.meaning, columns))
    render.console.print("\n".join(f"• {rule}" for rule in described.rules))


@app.command()
def effect(
    ctx: typer.Context,
    param: str = typer.Argument(..., help="Param key, e.g. optim.lr or loss.name."),
    metric: str = typer.Option(naming.METRIC_VAL_DICE, "--metric", "-m", help="Metric whose best value is used."),
    fmt: Format = _FORMAT,
    output: Path | None = _OUTPUT,
) -> None:
    """How one param relates to a metric: n, mean, std, min, max of the runs' best values per param value."""
    from minivess.pipelines import analytics as an

    result = an.param_effect(param, metric, warehouse=_warehouse(ctx), auto_sync=ctx.obj["auto_sync"])
    rows = [[g.value, g.n, g.mean, g.std, g.min, g.max, g.best_run] for g in result.groups]
    columns = [param, "n", "mean", "std", "min", "max", "best run"]
    _emit(f"effect of {param} on best {metric}", columns, rows, fmt, output)


@app.command()
def failures(ctx: typer.Context, fmt: Format = _FORMAT, output: Path | None = _OUTPUT) -> None:
    """FAILED runs grouped by error type (from the minivess.error tag), with their params."""
    from minivess.pipelines import analytics as an

    result = an.failures(warehouse=_warehouse(ctx), auto_sync=ctx.obj["auto_sync"])
    rows = [
        [g.error_type, r.run.run_id, r.run.run_name, r.run.model_family, r.message,
         ", ".join(f"{k}={v}" for k, v in r.params.items())]
        for g in result.groups
        for r in g.runs
    ]  # fmt: skip
    columns = ["error type", "run_id", "run_name", "family", "message", "params"]
    _emit(f"{result.total} failed runs", columns, rows, fmt, output)


@app.command()
def frontier(
    ctx: typer.Context,
    metric: str = typer.Option(naming.METRIC_VAL_DICE, "--metric", "-m", help="Metric to trade off."),
    all_points: bool = typer.Option(False, "--all", help="Show dominated runs too."),
    fmt: Format = _FORMAT,
    output: Path | None = _OUTPUT,
) -> None:
    """Cost (run minutes) vs best metric: the Pareto-optimal runs, cheapest first."""
    from minivess.pipelines import analytics as an

    result = an.cost_frontier(metric, warehouse=_warehouse(ctx), auto_sync=ctx.obj["auto_sync"])
    points = result.points if all_points else result.pareto
    rows = [[p.run.run_id, p.run.run_name, p.run.model_family, p.cost_min, p.value, p.pareto] for p in points]
    columns = ["run_id", "run_name", "family", "minutes", f"best {metric}", "pareto"]
    _emit(f"cost vs {metric}", columns, rows, fmt, output)
