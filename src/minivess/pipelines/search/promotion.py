"""Morning decision: the best trial against the champion on the test split; a clear win becomes `challenger`.

Becoming `champion` is never automatic: the caller (the nightly graph) asks a human through the approval flow.
"""

from __future__ import annotations

from pydantic import BaseModel

from minivess.pipelines.tracking import naming
from minivess.settings import Settings

TEST_METRIC = "test_cldice"


class Promotion(BaseModel):
    best_run_id: str
    best_test: float
    champion_run_id: str | None
    champion_test: float | None
    margin: float
    outcome: str  # "challenger" | "kept_champion"
    challenger_version: str | None = None
    reason: str


def decide(
    best_run_id: str, settings: Settings, margin: float, model_name: str = naming.DEFAULT_REGISTERED_MODEL
) -> Promotion:
    """Evaluate the best trial (and the champion, if any) on the test split; point `challenger` at a winner.

    The decision, either way, goes to the audit trail (kind ``search_decision``).
    """
    from minivess.pipelines.governance import audit

    promotion = _decide(best_run_id, settings, margin, model_name)
    subject = (
        f"{model_name} v{promotion.challenger_version} → challenger"
        if promotion.outcome == "challenger"
        else f"{model_name}: champion kept"
    )
    audit.append(
        settings, "search_decision", subject, reason=promotion.reason, details=promotion.model_dump(),
        run_id=best_run_id,
    )  # fmt: skip
    return promotion


def _decide(best_run_id: str, settings: Settings, margin: float, model_name: str) -> Promotion:
    from minivess.errors import TrackingError
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import register_run_model, resolve_version
    from minivess.pipelines.training.evaluation import evaluate_run

    client = client_for(settings.tracking_uri)
    best = evaluate_run(best_run_id, settings, split="test").summary[TEST_METRIC]
    try:
        champion_run: str | None = resolve_version(client, model_name, "champion").run_id
    except TrackingError:
        champion_run = None
    champion = None
    if champion_run is not None:
        champion = evaluate_run(champion_run, settings, split="test").summary[TEST_METRIC]
    facts = {
        "best_run_id": best_run_id,
        "best_test": best,
        "champion_run_id": champion_run,
        "champion_test": champion,
        "margin": margin,
    }
    if champion_run == best_run_id:
        return Promotion(**facts, outcome="kept_champion", reason="the best trial is already the champion")
    if champion is not None and best < champion + margin:
        why = f"test clDice {best:.3f} does not beat the champion's {champion:.3f} by {margin:g}"
        return Promotion(**facts, outcome="kept_champion", reason=why)
    from minivess.pipelines.governance import lineage

    with lineage.job_run(settings, "promote", inputs=[f"model/{best_run_id}"]) as job:
        job.link(mlflow_run_id=best_run_id, alias="challenger", model_name=model_name)
        version = register_run_model(client, best_run_id, model_name, alias="challenger")
        job.outputs(f"registry/{model_name}@challenger")
    why = (
        f"test clDice {best:.3f} beats the champion's {champion:.3f} by ≥ {margin:g}"
        if champion is not None
        else f"there is no champion yet; test clDice {best:.3f}"
    )
    return Promotion(**facts, outcome="challenger", challenger_version=str(version.version), reason=why)
