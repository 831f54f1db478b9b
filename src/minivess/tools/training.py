"""Training tools: train, evaluate, predict, promote (thin wrappers over pipelines/training)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from minivess import catalog
from minivess.errors import ConfigError, DataError, ToolInputError, TrackingError
from minivess.tools.base import ToolContext, tool
from minivess.tools.datasets import dataset_folder
from minivess.tools.runs import pin_run_id, resolve_run_ref

LossName = Literal["dice_ce", "dice_ce_cldice"]


def _known_model(name: str) -> str:
    if name not in catalog.MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(catalog.MODEL_NAMES)}")
    return name


# The model enum comes from the catalog: a new catalogued model appears in the schema the LLM reads.
ModelName = Annotated[
    str, AfterValidator(_known_model), WithJsonSchema({"type": "string", "enum": list(catalog.MODEL_NAMES)})
]


class TrainModelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ModelName = Field(
        description="Model family to train: "
        + "; ".join(f"{m.name} ({m.summary})" for m in catalog.MODELS.values())
        + "."
    )
    epochs: int | None = Field(None, ge=1, le=1000, description="Maximum epochs (default: the model's preset).")
    lr: float | None = Field(None, gt=0, lt=1, description="Peak learning rate, e.g. 0.001.")
    loss: LossName | None = Field(None, description="dice_ce, or dice_ce_cldice for topology-aware training.")
    batch_size: int | None = Field(None, ge=1, le=64, description="Volumes per step.")
    patch_size: list[int] | None = Field(None, min_length=3, max_length=3, description="Crop size [X, Y, Z].")
    max_minutes: float | None = Field(None, gt=0, description="Wall-clock budget in minutes.")
    dataset: str | None = Field(
        None, description="Dataset folder (raw/ + seg/) or a dataset's name; default: the synthetic dataset."
    )
    seed: int | None = Field(None, description="Training seed.")
    register_as: str | None = Field(None, description="Register the best checkpoint under this model name.")
    device: str | None = Field(
        None,
        pattern=r"^(?:auto|cpu|cuda(?::\d+)?|mps)$",
        description="Where to train: auto (cuda → mps → cpu, the default), cpu, cuda, cuda:N or mps.",
    )


class TrainModelResult(BaseModel):
    run_id: str
    model: str
    loss: str
    status: str
    stop_reason: str
    epochs_completed: int
    best_epoch: int | None
    best_metric: float | None
    metric: str
    last_metrics: dict[str, float]


def train_values(args: TrainModelArgs) -> dict[str, Any]:
    """The typed config values a request sets on top of its model's preset (unset arguments keep the preset's)."""
    values: dict[str, Any] = {
        "model.name": args.model,
        "trainer.epochs": args.epochs,
        "optim.lr": args.lr,
        "loss.name": args.loss,
        "trainer.batch_size": args.batch_size,
        "trainer.max_minutes": args.max_minutes,
        "data.dir": args.dataset,
        "trainer.seed": args.seed,
        "tracking.register_as": args.register_as,
        "data.patch_size": args.patch_size,
        "trainer.device": args.device,
    }
    return {key: value for key, value in values.items() if value is not None}


def estimate_train_minutes(args: TrainModelArgs) -> float:
    entry = catalog.model_entry(args.model)
    minutes = (args.epochs or entry.preset_epochs) * entry.cpu_seconds_per_epoch / 60.0
    return min(minutes, args.max_minutes) if args.max_minutes else minutes


def _train_approval(args: TrainModelArgs, ctx: ToolContext) -> str | None:
    minutes = estimate_train_minutes(args)
    if minutes > ctx.settings.approval_minutes:
        epochs = args.epochs or catalog.model_entry(args.model).preset_epochs
        return f"training {args.model} for {epochs} epoch(s) costs about {minutes:.1f} CPU minute(s)"
    return None


@tool(
    "train_model",
    TrainModelArgs,
    TrainModelResult,
    compute_minutes=estimate_train_minutes,
    needs_approval=_train_approval,
    makes_runs=True,
)
def train_model(args: TrainModelArgs, ctx: ToolContext) -> TrainModelResult:
    """Train a 3D vessel segmentation model and log it to MLflow.

    Starts from the model's preset and applies only the values given. Validation reports Dice, clDice,
    NSD and HD95 per epoch. Returns the new run id and its best validation metric.
    """
    from minivess.configs.loading import load_experiment
    from minivess.observability import get_tracer
    from minivess.observability.job_metrics import JobMetrics, MetricsTrainingObserver
    from minivess.observability.training import traced_training
    from minivess.pipelines.tracking.naming import TAG_TRACE_ID
    from minivess.pipelines.training import runs

    try:
        values = train_values(args)
        if args.dataset:  # a folder, or the name synthesize_data gave one
            values["data.dir"] = str(dataset_folder(args.dataset, ctx))
        cfg = load_experiment(catalog.model_entry(args.model).preset, values=values)
        with JobMetrics("train", ctx.settings) as metrics:  # HOME/metrics/train-<run>.prom, as from the CLI
            result = traced_training(
                get_tracer(ctx.settings),
                MetricsTrainingObserver(_ProgressObserver(ctx), metrics),
                lambda observer, tags: runs.train(cfg, ctx.settings, observer, tags),
                name="train",
                summary={
                    "model": args.model,
                    "loss": cfg.loss.name,
                    "epochs": cfg.trainer.epochs,
                    "data": str(cfg.data.dir or ""),
                },
                trace_tag=TAG_TRACE_ID,
                describe=runs.result_summary,
            )
    except (ConfigError, DataError) as exc:
        raise ToolInputError(f"train_model: {exc}") from exc
    return TrainModelResult(
        run_id=result.run_id,
        model=args.model,
        loss=cfg.loss.name,
        status=result.status,
        stop_reason=result.stop_reason,
        epochs_completed=result.epochs_completed,
        best_epoch=result.best_epoch,
        best_metric=result.best_metric,
        metric=result.metric_name,
        last_metrics={k: v for k, v in (result.history[-1] if result.history else {}).items() if k != "lr"},
    )


class _ProgressObserver:
    """Forwards engine events to the tool's progress sink (terminal or graph stream)."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        self.ctx.progress({"event": "run_started", "run_id": run_id, "epochs": epochs})

    def epoch_started(self, epoch: int, steps: int) -> None:
        self.ctx.progress({"event": "epoch_started", "epoch": epoch, "steps": steps})

    def step_finished(self, epoch: int, step: int, loss: float) -> None:
        self.ctx.progress({"event": "step", "epoch": epoch, "step": step, "loss": loss})

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        self.ctx.progress({"event": "epoch_finished", "epoch": epoch, "metrics": metrics})

    def run_finished(self, run_id: str, status: str, reason: str) -> None:
        self.ctx.progress({"event": "run_finished", "run_id": run_id, "status": status, "reason": reason})


class EvaluateRunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(
        description="Run id, or 'last' (the most recent run), 'best[:family[:metric]]', 'champion' or 'challenger'."
    )
    split: Literal["train", "val", "test"] = Field("test", description="Which split to evaluate on.")


class EvaluateRunResult(BaseModel):
    run_id: str
    split: str
    summary: dict[str, float]
    per_volume: dict[str, dict[str, float]]


@tool("evaluate_run", EvaluateRunArgs, EvaluateRunResult, compute_minutes=lambda args: 0.2)
def evaluate_run(args: EvaluateRunArgs, ctx: ToolContext) -> EvaluateRunResult:
    """Evaluate a finished run's best model on a data split (Dice, clDice, NSD, HD95 per volume).

    The summary is logged back to the run as <split>_dice, <split>_cldice, <split>_nsd, <split>_hd95.
    """
    from minivess.pipelines.training import evaluation

    run_id = resolve_run_ref(args.run_id, ctx)
    result = evaluation.evaluate_run(
        run_id, ctx.settings, split=args.split, on_volume=lambda v: ctx.progress({"event": "volume", "id": v})
    )
    return EvaluateRunResult(
        run_id=result.run_id,
        split=result.split,
        summary=result.summary,
        per_volume={vid: m.model_dump() for vid, m in result.per_volume},
    )


class PredictVolumeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(
        description="Run id whose model segments the volume ('last', 'best[:family]', 'champion' work too)."
    )
    input_path: str = Field(description="Input NIfTI volume (.nii or .nii.gz).")
    output_path: str | None = Field(None, description="Output mask path; default HOME/predictions/<input name>.")
    risk_fnr: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Output the conformal mask that misses at most this mean fraction of vessel voxels "
        "(e.g. 0.05); calibrated on the run's validation split.",
    )
    uncertainty_path: str | None = Field(
        None, description="Also write a per-voxel uncertainty map (predictive entropy; ensembles add variance)."
    )


class PredictVolumeResult(BaseModel):
    run_id: str
    output_path: str
    vessel_fraction: float
    threshold: float | None = None
    uncertainty_path: str | None = None
    drift_warnings: list[str] = Field(
        default_factory=list,
        description="features of the volume outside the training data's range (intensity percentiles, spacing, "
        "predicted vessel fraction): the mask may be unreliable",
    )


def prediction_path(args: PredictVolumeArgs, ctx: ToolContext) -> Path:
    """Where the mask goes. Model-written paths must stay under the home or working directory."""
    source = Path(args.input_path).expanduser()
    if not args.output_path:
        return ctx.settings.home_dir / "predictions" / source.name
    return checked_output(args.output_path, ctx)


def checked_output(path: str, ctx: ToolContext) -> Path:
    """A model-written output path, refused unless it is under the home or the working directory."""
    out = Path(path).expanduser().resolve()
    allowed = (ctx.settings.home_dir, Path.cwd().resolve())
    if not any(out.is_relative_to(root) for root in allowed):
        raise ToolInputError(
            f"predict_volume: output path {out} is outside the minivess home and the working directory; "
            "choose a path under one of them (or leave output_path empty for HOME/predictions/)."
        )
    return out


def _overwrite_mask(args: PredictVolumeArgs, ctx: ToolContext) -> str | None:
    try:
        outs = [prediction_path(args, ctx)]
        if args.uncertainty_path:
            outs.append(checked_output(args.uncertainty_path, ctx))
    except ToolInputError:
        return None  # the tools node reports it
    existing = [str(out) for out in outs if out.exists()]
    return f"overwrites {', '.join(existing)}" if existing else None


@tool(
    "predict_volume",
    PredictVolumeArgs,
    PredictVolumeResult,
    compute_minutes=lambda args: 0.1,
    needs_approval=_overwrite_mask,
    pin=pin_run_id,
)
def predict_volume(args: PredictVolumeArgs, ctx: ToolContext) -> PredictVolumeResult:
    """Segment one NIfTI volume with a run's model; the mask keeps the input's grid and spacing.

    With risk_fnr the mask is the conformal one (misses at most that mean fraction of vessel voxels);
    with uncertainty_path the per-voxel predictive entropy is written too.
    """
    from minivess.pipelines.training import evaluation

    source = Path(args.input_path).expanduser()
    if not source.is_file():
        raise ToolInputError(f"predict_volume: input {source} does not exist; give the path of a .nii.gz volume.")
    out = prediction_path(args, ctx)
    uncertainty = checked_output(args.uncertainty_path, ctx) if args.uncertainty_path else None
    run_id = resolve_run_ref(args.run_id, ctx)
    threshold = None
    if args.risk_fnr is not None:
        from minivess.pipelines.uncertainty import run_conformal

        try:
            threshold = run_conformal.threshold_for(run_id, ctx.settings, args.risk_fnr)
        except (DataError, ValueError) as exc:
            raise ToolInputError(f"predict_volume: {exc}") from exc
    result = evaluation.predict_file(
        run_id, source, out, ctx.settings, threshold=threshold, uncertainty_path=uncertainty
    )
    from minivess.pipelines.governance.drift import training_range_warnings

    return PredictVolumeResult(
        run_id=run_id,
        output_path=str(result.mask_path),
        vessel_fraction=result.vessel_fraction,
        threshold=threshold,
        uncertainty_path=str(uncertainty) if uncertainty else None,
        drift_warnings=training_range_warnings(ctx.settings, run_id, source, result.mask_path),
    )


class PromoteModelArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(
        description="Run whose model to register and promote ('last', 'best[:family]', 'champion' work too)."
    )
    alias: Literal["champion", "challenger"] = Field("champion", description="Registry alias to point at it.")
    model_name: str = Field("minivess-segmenter", description="Registered model name.")


def _audit_promotion(ctx: ToolContext, run_id: str, args: PromoteModelArgs, version: str) -> None:
    """The promotion's audit entry: the alias move, the run, its data version and the approval's trace."""
    from minivess.observability import current_trace_id
    from minivess.pipelines.governance import audit
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.naming import TAG_DATA_VERSION

    tags = client_for(ctx.settings.tracking_uri).get_run(run_id).data.tags
    audit.append(
        ctx.settings,
        "promotion",
        f"{args.model_name} v{version} → {args.alias}",
        details={"model_name": args.model_name, "version": version, "alias": args.alias},
        run_id=run_id,
        data_version=tags.get(TAG_DATA_VERSION),
        trace_id=current_trace_id(),
    )


class PromoteModelResult(BaseModel):
    run_id: str
    model_name: str
    version: str
    alias: str


def _always(args: PromoteModelArgs, ctx: ToolContext) -> str:
    return f"moves the '{args.alias}' alias of {args.model_name} to run {args.run_id}"


@tool(
    "promote_model",
    PromoteModelArgs,
    PromoteModelResult,
    needs_approval=_always,
    pin=pin_run_id,
)
def promote_model(args: PromoteModelArgs, ctx: ToolContext) -> PromoteModelResult:
    """Register a run's model in the MLflow registry and point the champion or challenger alias at it."""
    from minivess.pipelines.governance import lineage
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import register_run_model

    run_id = resolve_run_ref(args.run_id, ctx)
    with lineage.job_run(ctx.settings, "promote", inputs=[f"model/{run_id}"]) as job:
        job.link(mlflow_run_id=run_id, alias=args.alias, model_name=args.model_name)
        try:
            version = register_run_model(
                client_for(ctx.settings.tracking_uri), run_id, args.model_name, alias=args.alias
            )
        except TrackingError as exc:
            raise ToolInputError(f"promote_model: {exc}") from exc
        job.outputs(f"registry/{args.model_name}@{args.alias or version.version}")
    _audit_promotion(ctx, run_id, args, str(version.version))
    return PromoteModelResult(run_id=run_id, model_name=args.model_name, version=str(version.version), alias=args.alias)
