"""Governance tools: the model card of a registered model version or a run.

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
