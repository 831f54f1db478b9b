"""Annotation-loop tools: find suspicious label slices, queue them in Label Studio, check progress, import fixes.

Thin wrappers over ``pipelines/annotation``. Reviewer time is the cost of queueing: more than
``MINIVESS_REVIEW_APPROVAL_TASKS`` slices at once needs approval. Finding issues trains one model per fold,
so it is charged and approved like training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from minivess import catalog
from minivess.errors import ConfigError, DataError, LabelStudioError, PipelineError, ToolInputError, TrainingError
from minivess.pipelines.annotation.reports import ImportReport, QueueReport, StatusReport
from minivess.tools.base import ToolContext, tool
from minivess.tools.datasets import dataset_folder
from minivess.tools.runs import RUN_REF_HELP, pin_run_id, resolve_run_ref

DATASET_HELP = "Dataset folder (raw/ + seg/) or a name under the data dir; default: the synthetic dataset."
OOF_PRESET = "segresnet_tiny"


def _dataset(path: str | None, ctx: ToolContext) -> Path:
    """The dataset folder: a path, or a name under the data dir (what `synthesize_data` made), else synthetic."""
    from minivess.settings import DEFAULT_SYNTHETIC

    if path:
        return dataset_folder(path, ctx)
    folder = ctx.settings.resolved_data_dir / DEFAULT_SYNTHETIC
    if not folder.is_dir():
        raise ToolInputError(f"dataset folder {folder} does not exist; give a folder with raw/ and seg/.")
    return folder


def _call(tool_name: str, call: Any) -> Any:
    try:
        return call()
    except (ConfigError, DataError, TrainingError, LabelStudioError, PipelineError, ValueError) as exc:
        raise ToolInputError(f"{tool_name}: {exc}") from exc


class SliceIssueRow(BaseModel):
    rank: int
    volume_id: str
    axis: int
    slice_index: int
    score: float = Field(description="cleanlab label quality (lower = more likely mislabelled)")
    suspicious_fraction: float


class FindLabelIssuesArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(None, description=DATASET_HELP)
    folds: int = Field(3, ge=2, le=10, description="Cross-validation folds for out-of-fold probabilities.")
    epochs: int | None = Field(None, ge=1, le=200, description="Epochs per fold model (default: the preset's).")
    top: int = Field(20, ge=1, le=200, description="How many of the most suspicious slices to list.")


class FindLabelIssuesResult(BaseModel):
    dataset_dir: str
    dataset_version: str
    table: str = Field(description="Parquet table of every scored slice (queryable as label_issues)")
    slices_scored: int
    fold_runs: list[str]
    top: list[SliceIssueRow]


def _find_minutes(args: FindLabelIssuesArgs) -> float:
    entry = catalog.model_entry("segresnet")
    return args.folds * (args.epochs or entry.preset_epochs) * entry.cpu_seconds_per_epoch / 60.0


def _find_approval(args: FindLabelIssuesArgs, ctx: ToolContext) -> str | None:
    minutes = _find_minutes(args)
    if minutes > ctx.settings.approval_minutes:
        return f"trains {args.folds} fold models for out-of-fold probabilities, about {minutes:.1f} CPU minute(s)"
    return None


@tool(
    "find_label_issues",
    FindLabelIssuesArgs,
    FindLabelIssuesResult,
    compute_minutes=_find_minutes,
    needs_approval=_find_approval,
    makes_runs=True,
)
def find_label_issues(args: FindLabelIssuesArgs, ctx: ToolContext) -> FindLabelIssuesResult:
    """Find the 2-D slices whose vessel labels most likely disagree with the image.

    Trains one small model per fold for out-of-fold (calibrated) probabilities of every volume, scores each
    slice with cleanlab's segmentation label-quality score, and stores the ranked table under the home.
    """
    from minivess.pipelines.annotation import label_issues

    folder = _dataset(args.dataset, ctx)
    found = _call(
        "find_label_issues",
        lambda: label_issues.find_label_issues_for_dataset(
            folder,
            ctx.settings,
            folds=args.folds,
            epochs=args.epochs,
            on_fold=lambda fold, run_id: ctx.progress({"event": "fold", "fold": fold, "run_id": run_id}),
        ),
    )
    rows = found.rows  # in rank order
    return FindLabelIssuesResult(
        dataset_dir=str(folder),
        dataset_version=found.dataset_version,
        table=str(found.table_path),
        slices_scored=len(rows),
        fold_runs=list(found.fold_runs),
        top=[SliceIssueRow.model_validate(r, from_attributes=True) for r in rows[: args.top]],
    )


class QueueForReviewArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(None, description=DATASET_HELP)
    top_k: int = Field(20, ge=1, le=500, description="Queue the k most suspicious slices (already queued ones skip).")
    run_id: str | None = Field(
        None, description=f"Run whose prediction is shown next to the current mask: {RUN_REF_HELP} (default: none)."
    )


class QueueForReviewResult(QueueReport):
    """What queue_for_review did."""


def _queue_approval(args: QueueForReviewArgs, ctx: ToolContext) -> str | None:
    limit = ctx.settings.review_approval_tasks
    if args.top_k > limit:
        return f"queues {args.top_k} slices for human review (more than {limit}): reviewer time is the cost"
    return None


@tool(
    "queue_for_review",
    QueueForReviewArgs,
    QueueForReviewResult,
    needs_approval=_queue_approval,
    pin=pin_run_id,
)
def queue_for_review(args: QueueForReviewArgs, ctx: ToolContext) -> QueueForReviewResult:
    """Queue the most suspicious slices (from find_label_issues) in Label Studio for a reviewer.

    Each task shows the slice, the current mask as the starting annotation and, with run_id, the model's
    prediction; most suspicious first. Re-queueing never duplicates tasks.
    """
    from minivess.pipelines.annotation import workflow

    folder = _dataset(args.dataset, ctx)
    run_id = resolve_run_ref(args.run_id, ctx) if args.run_id else None
    report = _call("queue_for_review", lambda: workflow.queue_top(folder, ctx.settings, args.top_k, run_id))
    return QueueForReviewResult.model_validate(report.model_dump())


class DatasetArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(None, description=DATASET_HELP)


class ReviewStatusResult(StatusReport):
    """What review_status found."""


@tool("review_status", DatasetArgs, ReviewStatusResult)
def review_status(args: DatasetArgs, ctx: ToolContext) -> ReviewStatusResult:
    """How many queued slices of a dataset version are reviewed, skipped or pending in Label Studio."""
    from minivess.pipelines.annotation import workflow

    folder = _dataset(args.dataset, ctx)
    report = _call("review_status", lambda: workflow.status(folder, ctx.settings))
    return ReviewStatusResult.model_validate(report.model_dump())


class ImportReviewsResult(ImportReport):
    """What import_reviews wrote."""


@tool("import_reviews", DatasetArgs, ImportReviewsResult, compute_minutes=lambda args: 0.1)
def import_reviews(args: DatasetArgs, ctx: ToolContext) -> ImportReviewsResult:
    """Import finished Label Studio reviews as a new dataset version (the source stays as it was).

    The new folder holds corrected masks and a lineage ledger; training on it records the reviews it used.
    """
    from minivess.pipelines.annotation import workflow

    folder = _dataset(args.dataset, ctx)
    report = _call("import_reviews", lambda: workflow.import_all(folder, ctx.settings))
    return ImportReviewsResult.model_validate(report.model_dump())
