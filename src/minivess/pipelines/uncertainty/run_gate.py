"""The weight-quality gate for a run: WeightWatcher alphas of its best model against the rule in settings."""

from __future__ import annotations

import logging
from typing import Final

from pydantic import BaseModel

from minivess.errors import ConfigError
from minivess.fileio import write_json_atomic
from minivess.pipelines.models.ensemble import ENSEMBLE_ADAPTER
from minivess.pipelines.tracking.mlflow_run import RunRecorder
from minivess.pipelines.training.evaluation import open_run
from minivess.pipelines.uncertainty.weight_quality import GateRule, analyse_weights, evaluate_gate
from minivess.settings import Settings

logger = logging.getLogger(__name__)

TAG_GATE: Final = "minivess.quality_gate"  # "pass" | "fail"


class GateLayer(BaseModel):
    name: str
    kind: str
    alpha: float | None
    analysed_as: str


class GateReport(BaseModel):
    run_id: str
    passed: bool
    reasons: list[str]
    alpha_weighted: float | None
    mean_alpha: float | None
    layers_analysed: int
    layers_total: int
    layers_native: int
    layers: list[GateLayer]


def gate_rule(settings: Settings) -> GateRule:
    """The pass/fail rule configured in settings (MINIVESS_GATE_*)."""
    return GateRule(
        alpha_min=settings.gate_alpha_min,
        alpha_max=settings.gate_alpha_max,
        max_fraction_outside=settings.gate_max_fraction_outside,
        min_coverage=settings.gate_min_coverage,
    )


def quality_gate(run_ref: str, settings: Settings) -> GateReport:
    """Analyse a run's weights, apply the gate, log alphas, coverage and the verdict to the run.

    Raises:
        ConfigError: The run is an ensemble (gate its members), or the settings' rule is invalid.
    """
    try:
        rule = gate_rule(settings)
    except ValueError as exc:
        raise ConfigError(f"the weight gate settings are invalid: {exc}") from exc
    run = open_run(run_ref, settings)
    if run.spec.adapter == ENSEMBLE_ADAPTER:
        raise ConfigError(f"run {run.run_id} is an ensemble; run the gate on each of its members instead.")
    report = analyse_weights(run.model)
    verdict = evaluate_gate(report, rule)
    recorder = RunRecorder(run.client, run.run_id)
    metrics = {
        "ww_layers_analysed": float(report.layers_analysed),
        "ww_layers_total": float(report.weight_layers_total),
    }
    if report.alpha_weighted is not None:
        metrics["ww_alpha_weighted"] = report.alpha_weighted
    if report.mean_alpha is not None:
        metrics["ww_mean_alpha"] = report.mean_alpha
    recorder.log_metrics(metrics, step=0)
    recorder.set_tags({TAG_GATE: "pass" if verdict.passed else "fail"})
    path = run.folder / "quality" / "weightwatcher.json"
    write_json_atomic(path, {"rule": rule.model_dump(), "report": report.model_dump(), "verdict": verdict.model_dump()})
    recorder.log_artifact(path, "quality")
    from minivess.pipelines.governance import audit

    audit.append(
        settings, "gate_result", f"weight gate {'pass' if verdict.passed else 'fail'}: run {run.run_id[:8]}",
        reason="; ".join(verdict.reasons) or None, details={"gate": "weightwatcher", "passed": verdict.passed,
        "rule": rule.model_dump(), "alpha_weighted": report.alpha_weighted}, run_id=run.run_id,
    )  # fmt: skip
    return GateReport(
        run_id=run.run_id,
        passed=verdict.passed,
        reasons=verdict.reasons,
        alpha_weighted=report.alpha_weighted,
        mean_alpha=report.mean_alpha,
        layers_analysed=report.layers_analysed,
        layers_total=report.weight_layers_total,
        layers_native=report.native_layers_analysed or 0,
        layers=[
            GateLayer(
                name=row.name,
                kind=row.module_type,
                alpha=row.alpha,
                analysed_as=row.method if row.analysed else f"not analysed: {row.reason}",
            )
            for row in report.layers
        ],
    )
