"""Uncertainty tools: calibration, conformal FNR control, ensembles, greedy soups and the weight-quality gate.

Thin wrappers over ``pipelines/uncertainty``: each resolves run references, calls one pipeline function and
returns its typed report. Pipeline input errors (bad runs, too few volumes) go back to the model as
ToolInputError so it can ask the user or fix the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import ConfigError, DataError, ToolInputError, TrackingError, TrainingError
from minivess.tools.base import ToolContext, tool
from minivess.tools.runs import RUN_REF_HELP, resolve_run_ref
from minivess.tools.training import ModelName

T = TypeVar("T")


def _pipeline_call(tool_name: str, call: Callable[[], T]) -> T:
    """Run a pipeline function; its input errors become ToolInputError for the model."""
    try:
        return call()
    except (ConfigError, DataError, TrainingError, TrackingError, ValueError) as exc:
        raise ToolInputError(f"{tool_name}: {exc}") from exc


class CalibrationNumbers(BaseModel):
    """Calibration of vessel probabilities on one region (lower is better for all four)."""

    ece: float = Field(description="Expected calibration error (15 bins, L1)")
    mce: float = Field(description="Maximum calibration error over the bins")
    brier: float = Field(description="Mean squared error of the vessel probability")
    nll: float = Field(description="Mean binary negative log-likelihood")
    n_voxels: int


class CalibrateRunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description=f"Run to calibrate: {RUN_REF_HELP}.")


class CalibrateRunResult(BaseModel):
    run_id: str
    temperature: float = Field(description="Fitted softmax temperature (>1: the model was over-confident)")
    fit_split: str
    eval_split: str
    n_fit_voxels: int
    before: dict[str, CalibrationNumbers] = Field(description="region ('foreground', 'volume') → metrics, T = 1")
    after: dict[str, CalibrationNumbers] = Field(description="region → metrics with the fitted temperature")
    reliability_diagram: str = Field(description="PNG path: confidence vs observed frequency, before and after")


@tool("calibrate_run", CalibrateRunArgs, CalibrateRunResult, compute_minutes=lambda args: 0.3)
def calibrate_run(args: CalibrateRunArgs, ctx: ToolContext) -> CalibrateRunResult:
    """Measure how over-confident a run's vessel probabilities are and fix it with temperature scaling.

    Fits one temperature on the validation split (NLL), then reports ECE, MCE, Brier and NLL on the test
    split before and after, on the vessel region (vessel ∪ predicted vessel, dilated) and on the whole volume.
    The temperature is stored with the run; evaluate and predict apply it from then on.
    """
    from minivess.pipelines.uncertainty import run_calibration

    run_id = resolve_run_ref(args.run_id, ctx)
    report = _pipeline_call(
        "calibrate_run",
        lambda: run_calibration.calibrate_run(
            run_id, ctx.settings, on_volume=lambda v: ctx.progress({"event": "volume", "id": v})
        ),
    )
    return CalibrateRunResult.model_validate(report.model_dump())


class ConformalCalibrateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description=f"Run whose probabilities to calibrate: {RUN_REF_HELP}.")
    alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Largest tolerated mean fraction of missed vessel voxels (false-negative rate), "
        "e.g. 0.05 for 'misses at most 5 % of vessels'.",
    )


class ConformalCalibrateResult(BaseModel):
    run_id: str
    alpha: float
    threshold: float = Field(description="Vessel-probability threshold: the conformal mask is p >= threshold")
    calibration_split: str
    n_calibration: int
    calibration_fnr: float = Field(description="Mean FNR at the threshold on the calibration volumes")
    test_fnr_mean: float | None = Field(description="Mean FNR on the test split (None if it is empty)")
    test_fnr_per_volume: dict[str, float]
    guarantee: str = Field(description="What the threshold promises (on average, not per volume)")


@tool("conformal_calibrate", ConformalCalibrateArgs, ConformalCalibrateResult, compute_minutes=lambda args: 0.3)
def conformal_calibrate(args: ConformalCalibrateArgs, ctx: ToolContext) -> ConformalCalibrateResult:
    """Choose a mask threshold that misses at most a fraction alpha of vessel voxels on average.

    Conformal risk control (Angelopoulos et al. 2022) on the run's calibration (validation) split, with the
    finite-sample correction; the threshold is stored with the run so `predict_volume` with `risk_fnr`
    can output the conformal mask. Needs at least ceil(1/alpha) - 1 calibration volumes.
    """
    from minivess.pipelines.uncertainty import run_conformal

    run_id = resolve_run_ref(args.run_id, ctx)
    report = _pipeline_call(
        "conformal_calibrate", lambda: run_conformal.conformal_calibrate(run_id, ctx.settings, args.alpha)
    )
    return ConformalCalibrateResult.model_validate(report.model_dump())


class BuildEnsembleArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ids: list[str] | None = Field(
        None, min_length=2, max_length=10, description=f"Member runs (2-10), each {RUN_REF_HELP}."
    )
    top_k: int | None = Field(
        None, ge=2, le=10, description="Instead of run_ids: the k best finished runs by validation Dice."
    )
    family: ModelName | None = Field(None, description="With top_k: only runs of this model family.")
    strategy: Literal["mean", "vote", "weighted"] = Field(
        "mean",
        description="mean: average probabilities; vote: majority of masks; weighted: probabilities weighted "
        "by each member's validation Dice.",
    )


class EnsembleMember(BaseModel):
    run_id: str
    family: str
    weight: float
    val_dice: float | None


class BuildEnsembleResult(BaseModel):
    run_id: str = Field(description="The new ensemble run (family 'ensemble'); evaluate/predict/promote it")
    strategy: str
    members: list[EnsembleMember]
    test: dict[str, float] = Field(description="Ensemble test metrics: dice, cldice, nsd, hd95, ece")
    best_member: str
    best_member_test: dict[str, float]
    uncertainty_maps: str = Field(description="Folder of per-volume variance and entropy maps (NIfTI)")


@tool("build_ensemble", BuildEnsembleArgs, BuildEnsembleResult, compute_minutes=lambda args: 0.5, makes_runs=True)
def build_ensemble(args: BuildEnsembleArgs, ctx: ToolContext) -> BuildEnsembleResult:
    """Ensemble several trained runs and log the ensemble as a run of its own (family 'ensemble').

    Members must share patch size and spacing. Evaluated on the test split against its best member
    (Dice, clDice, NSD, HD95, ECE); writes per-voxel variance and predictive entropy maps.
    """
    from minivess.pipelines.uncertainty import run_ensemble

    if (args.run_ids is None) == (args.top_k is None):
        raise ToolInputError("build_ensemble: give either run_ids (2-10 runs) or top_k, not both or neither.")
    if args.family is not None and args.top_k is None:
        raise ToolInputError("build_ensemble: family only applies with top_k.")
    members = (
        [resolve_run_ref(ref, ctx) for ref in args.run_ids]
        if args.run_ids is not None
        else _pipeline_call(
            "build_ensemble",
            lambda: run_ensemble.top_runs(ctx.settings, k=args.top_k or 2, family=args.family),
        )
    )
    report = _pipeline_call(
        "build_ensemble",
        lambda: run_ensemble.build_ensemble(
            members, ctx.settings, args.strategy, on_volume=lambda v: ctx.progress({"event": "volume", "id": v})
        ),
    )
    return BuildEnsembleResult.model_validate(report.model_dump())


class GreedySoupArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description=f"Run whose epoch checkpoints are the soup's ingredients: {RUN_REF_HELP}.")


class GreedySoupResult(BaseModel):
    run_id: str = Field(description="The new soup run (family 'soup'); evaluate/predict/promote it")
    source_run: str
    ingredients: list[int] = Field(description="Epochs tried, best validation Dice first")
    kept: list[int] = Field(description="Epochs whose weights are averaged into the soup")
    val_dice_best_ingredient: float
    val_dice_soup: float
    test: dict[str, float]


@tool("greedy_soup", GreedySoupArgs, GreedySoupResult, compute_minutes=lambda args: 0.5, makes_runs=True)
def greedy_soup(args: GreedySoupArgs, ctx: ToolContext) -> GreedySoupResult:
    """Average the weights of a run's epoch checkpoints greedily (Wortsman et al. 2022) into a new run.

    Ingredients are sorted by validation Dice; one is added only if the averaged weights do not get worse
    on validation. Checkpoints must share an initialisation (the epochs of one run): runs trained from
    scratch are refused. The soup is logged as a run of its own (family 'soup').
    """
    from minivess.pipelines.uncertainty import run_soup

    run_id = resolve_run_ref(args.run_id, ctx)
    report = _pipeline_call(
        "greedy_soup",
        lambda: run_soup.greedy_soup(
            run_id, ctx.settings, on_step=lambda e: ctx.progress({"event": "ingredient", "epoch": e})
        ),
    )
    return GreedySoupResult.model_validate(report.model_dump())


class QualityGateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description=f"Run whose weights to check: {RUN_REF_HELP}.")


class LayerQuality(BaseModel):
    name: str
    kind: str
    alpha: float | None
    analysed_as: str = Field(description="'native', 'conv3d-as-2d', or why it was not analysed")


class QualityGateResult(BaseModel):
    run_id: str
    passed: bool
    reasons: list[str]
    alpha_weighted: float | None
    mean_alpha: float | None
    layers_analysed: int
    layers_total: int
    layers_native: int = Field(description="Layers WeightWatcher analyses without our Conv3d extension")
    layers: list[LayerQuality]


@tool("quality_gate", QualityGateArgs, QualityGateResult, compute_minutes=lambda args: 0.2)
def quality_gate(args: QualityGateArgs, ctx: ToolContext) -> QualityGateResult:
    """Check a run's weights with WeightWatcher (power-law alpha per layer) against the gate in settings.

    Conv3d layers are analysed as the 2-D kernel-slice matrices WeightWatcher uses for Conv2d; the result
    says how many layers were analysed. Logged to the run.
    """
    from minivess.pipelines.uncertainty import run_gate

    run_id = resolve_run_ref(args.run_id, ctx)
    report = _pipeline_call("quality_gate", lambda: run_gate.quality_gate(run_id, ctx.settings))
    return QualityGateResult.model_validate(report.model_dump())
