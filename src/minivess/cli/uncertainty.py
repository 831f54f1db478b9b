"""`minivess calibrate | conformal | ensemble | soup | gate`: how far to trust a run's predictions.

Pipelines are imported inside the commands (torch, MONAI and MLflow take seconds to import).
"""

from __future__ import annotations

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.cli.render_uncertainty import (
    calibration_view,
    conformal_view,
    ensemble_view,
    gate_view,
    soup_view,
)
from minivess.cli.tracing import traced_command
from minivess.errors import ConfigError

STRATEGIES = ("mean", "vote", "weighted")


def calibrate(run_id: str = typer.Argument(..., help="Run id, unique prefix (≥ 6 chars) or 'last'.")) -> None:
    """Fit a temperature on the validation split; ECE/MCE/Brier/NLL on test before → after; reliability PNG.

    The temperature is stored with the run and used by `evaluate` and `predict` from then on.
    """
    from minivess.pipelines.uncertainty import run_calibration

    settings = get_settings()
    with (
        traced_command("calibrate", settings, {"run": run_id}) as trace,
        render.console.status("calibrating (validation fit, test check)…"),
    ):
        report = run_calibration.calibrate_run(run_id, settings)
        trace.update(output={"temperature": report.temperature}, metadata={"mlflow_run_id": report.run_id})
    render.console.print(calibration_view(report.model_dump()))


def conformal(
    run_id: str = typer.Argument(..., help="Run id, unique prefix (≥ 6 chars) or 'last'."),
    alpha: float = typer.Option(0.05, "--alpha", "-a", help="Tolerated mean fraction of missed vessel voxels."),
) -> None:
    """Conformal risk control: a threshold whose mask misses at most alpha of vessel voxels on average."""
    from minivess.pipelines.uncertainty import run_conformal

    run_conformal.check_alpha(alpha)
    settings = get_settings()
    with (
        traced_command("conformal", settings, {"run": run_id, "alpha": alpha}) as trace,
        render.console.status("calibrating the conformal threshold…"),
    ):
        report = run_conformal.conformal_calibrate(run_id, settings, alpha)
        trace.update(output={"threshold": report.threshold}, metadata={"mlflow_run_id": report.run_id})
    render.console.print(conformal_view(report.model_dump()))


def ensemble(
    run_ids: list[str] = typer.Argument(None, help="Member runs (2-10); or use --top."),
    strategy: str = typer.Option("mean", "--strategy", help="mean, vote or weighted (by validation Dice)."),
    top: int | None = typer.Option(None, "--top", help="Ensemble the N best finished runs by validation Dice."),
    family: str | None = typer.Option(None, "--family", help="With --top: only this model family."),
) -> None:
    """Ensemble runs into a new run (family 'ensemble'); test metrics vs the best member; uncertainty maps."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"--strategy {strategy}: choose one of {', '.join(STRATEGIES)}.")
    if bool(run_ids) == (top is not None):
        raise ConfigError("give either member run ids or --top N, not both or neither.")
    if top is not None and not 2 <= top <= 10:
        raise ConfigError(f"--top {top}: an ensemble has 2 to 10 members.")
    from minivess.pipelines.uncertainty import run_ensemble

    settings = get_settings()
    members = list(run_ids) if run_ids else run_ensemble.top_runs(settings, top or 2, family)
    with render.console.status(f"ensembling {len(members)} runs…"):
        report = run_ensemble.build_ensemble(members, settings, strategy)  # type: ignore[arg-type]
    render.console.print(ensemble_view(report.model_dump()))


def soup(run_ids: list[str] = typer.Argument(..., help="The run whose epoch checkpoints make the soup.")) -> None:
    """Greedy soup of one run's epoch checkpoints into a new run (family 'soup')."""
    from minivess.pipelines.uncertainty import run_soup

    with render.console.status("cooking a greedy soup…"):
        report = run_soup.greedy_soup(run_ids, get_settings())
    render.console.print(soup_view(report.model_dump()))


def gate(run_id: str = typer.Argument(..., help="Run id, unique prefix (≥ 6 chars) or 'last'.")) -> None:
    """Weight-quality gate: WeightWatcher alpha per layer (Conv3d included) against MINIVESS_GATE_* settings.

    Exits with status 1 when the gate fails.
    """
    from minivess.pipelines.uncertainty import run_gate

    with render.console.status("analysing weights…"):
        report = run_gate.quality_gate(run_id, get_settings())
    render.console.print(gate_view(report.model_dump()))
    if not report.passed:
        raise typer.Exit(1)
