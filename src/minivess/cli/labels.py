"""`minivess labels find | queue | status | import`: the label-review loop from the terminal.

Pipelines are imported inside the commands (torch, MONAI, MLflow and the Label Studio SDK take seconds).
"""

from __future__ import annotations

from pathlib import Path

import typer

from minivess.cli import render
from minivess.cli.context import get_settings

app = typer.Typer(
    help="Find suspicious label slices, review them in Label Studio, import the fixes.", no_args_is_help=True
)

DatasetArg = typer.Argument(None, help="Dataset folder (raw/ + seg/); default: the synthetic dataset in the home.")
JsonOpt = typer.Option(False, "--json", help="Print the report as JSON (for scripts).")


def _folder(dataset: Path | None) -> Path:
    from minivess.errors import DataError
    from minivess.settings import DEFAULT_SYNTHETIC

    settings = get_settings()
    folder = (dataset or settings.resolved_data_dir / DEFAULT_SYNTHETIC).expanduser()
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist; give a folder with raw/ and seg/.")
    return folder


@app.command("find")
def find(
    dataset: Path | None = DatasetArg,
    folds: int = typer.Option(3, "--folds", min=2, max=10, help="Cross-validation folds (one model each)."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Epochs per fold model (default: preset)."),
    top: int = typer.Option(20, "--top", min=1, help="Rows shown."),
) -> None:
    """Score every 2-D slice's label with cleanlab on out-of-fold probabilities; store the ranked table."""
    from minivess.pipelines.annotation import label_issues

    folder = _folder(dataset)
    with render.console.status(f"training {folds} fold models for out-of-fold probabilities…") as spinner:

        def on_fold(fold: int, run_id: str) -> None:
            render.console.print(f"fold {fold + 1}/{folds} done: run {run_id[:8]}")
            last = fold + 1 == folds
            spinner.update("scoring slices with cleanlab…" if last else f"training fold {fold + 2}/{folds}…")

        found = label_issues.find_label_issues_for_dataset(
            folder, get_settings(), folds=folds, epochs=epochs, on_fold=on_fold
        )
    rows = found.rows[:top]  # in rank order
    render.console.print(
        render.records_table(
            f"most suspicious slices of {folder.name} ({found.dataset_version})",
            ["rank", "volume", "axis", "slice", "score", "suspicious"],
            [[r.rank, r.volume_id, r.axis, r.slice_index, r.score, r.suspicious_fraction] for r in rows],
        )
    )
    render.console.print(f"table: {found.table_path} (fold runs: {', '.join(found.fold_runs)})", soft_wrap=True)


@app.command("queue")
def queue(
    dataset: Path | None = DatasetArg,
    top_k: int = typer.Option(20, "--top", "-k", min=1, max=500, help="Queue the k most suspicious slices."),
    run_id: str | None = typer.Option(None, "--run", help="Show this run's prediction next to the current mask."),
    as_json: bool = JsonOpt,
) -> None:
    """Queue the most suspicious slices in Label Studio (idempotent: already queued slices are skipped)."""
    from minivess.pipelines.annotation import workflow

    report = workflow.queue_top(_folder(dataset), get_settings(), top_k, run_id)
    render.key_values("review queue", report, as_json)


@app.command("status")
def status(dataset: Path | None = DatasetArg, as_json: bool = JsonOpt) -> None:
    """Reviewed / skipped / pending tasks of the dataset version's project, and imported versions."""
    from minivess.pipelines.annotation import workflow

    report = workflow.status(_folder(dataset), get_settings())
    render.key_values("review status", report, as_json)


@app.command("import")
def import_(dataset: Path | None = DatasetArg, as_json: bool = JsonOpt) -> None:
    """Write finished reviews into a new dataset version (with a lineage ledger); the source stays as it was."""
    from minivess.pipelines.annotation import workflow

    report = workflow.import_all(_folder(dataset), get_settings())
    render.key_values("imported reviews", report, as_json)
    if report.dataset_dir and not as_json:
        # soft_wrap: a long path stays on one line, so the command can be copied
        render.console.print(f"train on it: minivess train --set data.dir={report.dataset_dir}", soft_wrap=True)
