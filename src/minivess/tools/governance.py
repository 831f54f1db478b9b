"""Governance tools: the model card of a registered model version or a run; dataset drift against a reference.

Thin wrapper over ``pipelines/governance/cards``: it resolves the reference, writes the card (Markdown + HTML,
attached to the registered version) and returns its key facts. A reference that matches nothing goes back to
the model as ToolInputError.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import DataError, ToolInputError, TrackingError, TrainingError
from minivess.tools.base import ToolContext, tool
from minivess.tools.runs import RUN_REF_HELP, resolve_run_ref

MODEL_REF_HELP = f"'champion' (default), 'challenger', '<registered model>@<version>', or {RUN_REF_HELP}"


class ModelCardArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field("champion", description=f"Model to document: {MODEL_REF_HELP}.")


class ModelCardResult(BaseModel):
    run_id: str
    registered_model: str | None = Field(description="registered model name, None when the run is not registered")
    version: str | None = Field(description="registered version number the card is attached to")
    aliases: list[str] = Field(description="registry aliases of that version (champion, challenger)")
    model_family: str | None
    markdown: str = Field(description="path of the Markdown card")
    html: str = Field(description="path of the HTML card (self-contained)")
    artifact_path: str | None = Field(description="MLflow artifact path of the card on the run")
    data_version: str | None = Field(description="manifest version of the training data")
    dvc_version: str | None
    best_val_dice: float | None
    test_dice: float | None
    temperature: float | None = Field(description="fitted calibration temperature; None = not calibrated")
    test_ece_before: float | None
    test_ece_after: float | None
    conformal_thresholds: dict[str, float] = Field(description="alpha → conformal FNR threshold")
    approvals: list[str] = Field(description="audit entries about this model: 'kind by actor: reason'")
    missing: list[str] = Field(description="sources that were absent (the card says how to produce them)")


@tool("model_card", ModelCardArgs, ModelCardResult, compute_minutes=lambda args: 0.1)
def model_card(args: ModelCardArgs, ctx: ToolContext) -> ModelCardResult:
    """Write the model card (Mitchell et al.: details, intended use, factors, metrics, evaluation and training
    data, quantitative analyses, ethics, caveats) of a registered model version or a run, from recorded sources
    only: MLflow metrics and params, calibration and conformal results, the dataset version and the audit trail
    (who approved it and why). Absent sources are stated in the card, never estimated. The Markdown and HTML are
    attached to the registered version. Use it to document the champion or any run.
    """
    from minivess.pipelines.governance.cards import model_card as write_card

    ref = args.model.strip() or "champion"
    if ref == "best" or ref.startswith("best:"):
        ref = resolve_run_ref(ref, ctx)
    try:
        card = write_card(ctx.settings, ref)
    except (TrackingError, TrainingError, DataError) as exc:
        raise ToolInputError(f"model_card: cannot document '{args.model}': {exc} Use {MODEL_REF_HELP}.") from exc
    return ModelCardResult(
        **card.model_dump(
            include={"run_id", "registered_model", "version", "aliases", "model_family", "artifact_path",
                     "data_version", "dvc_version", "best_val_dice", "temperature", "test_ece_before",
                     "test_ece_after", "conformal_thresholds", "approvals", "missing"}
        ),
        markdown=str(card.markdown),
        html=str(card.html),
        test_dice=card.metrics.get("test_dice"),
    )  # fmt: skip


class CheckDriftArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(..., min_length=1, description="The new dataset to check: a folder (raw/ + seg/) or a name.")
    reference: str | None = Field(
        None, description="Dataset to compare against (folder or name); default: the training data of `model`."
    )
    model: str | None = Field(
        None,
        description="Model whose predictions on both datasets are compared too (predicted vessel fraction, mean "
        f"entropy) and whose training data is the reference when `reference` is not given: {MODEL_REF_HELP}; "
        "default the champion (without one, a named reference is compared on the data alone).",
    )


class DriftFeature(BaseModel):
    name: str
    p_value: float | None = Field(description="two-sample test p-value; None when not tested (constant)")
    drifted: bool


class CheckDriftResult(BaseModel):
    reference: str = Field(description="reference dataset folder")
    current: str = Field(description="current dataset folder")
    n_reference: int
    n_current: int
    sufficient: bool = Field(description="False: too few volumes for the test to mean anything (no verdict)")
    drifted: bool
    drifted_features: list[str]
    features: list[DriftFeature]
    threshold: float = Field(description="per-feature p-value threshold (Bonferroni)")
    report_html: str | None = Field(description="Evidently's HTML report; None when nothing was tested")
    model_run_id: str | None = Field(None, description="run whose predictions were compared; None: data only")


@tool("check_drift", CheckDriftArgs, CheckDriftResult, compute_minutes=lambda args: 0.3)
def check_drift(args: CheckDriftArgs, ctx: ToolContext) -> CheckDriftResult:
    """Check whether a dataset has drifted from a reference (by default the champion's training data): per-volume
    features (intensity percentiles, SNR, vessel fraction of the label, spacing, shape, and the model's predicted
    vessel fraction and mean entropy), one row per volume, each tested with Evidently's two-sample test at a
    Bonferroni-corrected threshold. With too few volumes for any test to fire it says there is no verdict instead
    of guessing. Writes an HTML report. Use it before training or predicting on new data.
    """
    from minivess.pipelines.governance.drift import compare_datasets, training_data

    model = args.model or "champion"
    try:
        reference = args.reference or training_data(ctx.settings, model)
        run_ref = model if args.model or not args.reference or _has_champion(ctx) else None
        result = compare_datasets(ctx.settings, reference, args.current, run_ref)
    except (TrackingError, TrainingError, DataError) as exc:
        hint = "" if args.reference or args.model else " Name the reference dataset, or promote a champion first."
        raise ToolInputError(f"check_drift: {exc}{hint}") from exc
    return CheckDriftResult(
        **result.model_dump(
            include={"reference", "current", "n_reference", "n_current", "sufficient", "drifted",
                     "drifted_features", "threshold", "report_html", "model_run_id"}
        ),
        features=[DriftFeature(name=f.name, p_value=f.p_value, drifted=f.drifted) for f in result.features],
    )  # fmt: skip


def _has_champion(ctx: ToolContext) -> bool:
    from minivess.pipelines.governance.card_sources import resolve_target
    from minivess.pipelines.tracking.mlflow_run import client_for

    try:
        resolve_target(client_for(ctx.settings.tracking_uri), "champion")
    except (TrackingError, TrainingError):
        return False
    return True
