"""`minivess card MODEL_OR_RUN` and `minivess data card DATASET`: model and data cards (Markdown + HTML).

Pipelines are imported inside the commands so `minivess --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from minivess.cli import render
from minivess.cli.context import get_settings

_REF_HELP = (
    "champion, challenger (optionally :<registered model>), <model>@<version>, a run id, unique prefix or 'last'."
)


def card(
    model: str = typer.Argument("champion", help=_REF_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the card (default HOME/cards/<model>-v<N>)."),
    no_attach: bool = typer.Option(False, "--no-attach", help="Do not log the card on the run / tag the version."),
    as_json: bool = typer.Option(False, "--json", help="Print the card's key facts as JSON."),
) -> None:
    """Write a model card (Mitchell et al.) from MLflow, calibration, dataset versions and the audit trail."""
    from minivess.pipelines.governance.cards import model_card

    with render.console.status("writing the model card…"):
        result = model_card(get_settings(), model, out=out, attach=not no_attach)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    subject = f"{result.registered_model} v{result.version}" if result.version else f"run {result.run_id[:8]}"
    render.console.print(f"[green]model card of {subject}[/] ({result.model_family or 'unknown family'})")
    render.console.print(f"  markdown  {result.markdown}\n  html      {result.html}")
    if result.artifact_path:
        tagged = " and tagged on the version" if result.version else " (the run is not registered)"
        render.console.print(f"  attached  MLflow artifact {result.artifact_path}{tagged}")
    facts = [f"val_dice best {result.best_val_dice:.4g}" if result.best_val_dice is not None else "no val_dice"]
    if "test_dice" in result.metrics:
        facts.append(f"test_dice {result.metrics['test_dice']:.4g}")
    facts.append(f"T = {result.temperature:.3g}" if result.temperature is not None else "not calibrated")
    facts.append(f"{result.audit_entries} audit entr{'y' if result.audit_entries == 1 else 'ies'}")
    render.console.print("  " + " · ".join(facts))
    if result.missing:
        render.console.print(f"  [yellow]absent sources:[/] {', '.join(result.missing)}")


def data_card(
    dataset: str = typer.Argument(..., help="Dataset folder, or a dataset name under the data dir."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the card (default HOME/cards/data-…)."),
    as_json: bool = typer.Option(False, "--json", help="Print the card's key facts as JSON."),
) -> None:
    """Write a data card (Pushkarna et al.): composition, provenance, labeling, versions, limits."""
    from minivess.pipelines.governance.cards import data_card as write_card

    with render.console.status("scanning the dataset…"):
        result = write_card(get_settings(), dataset, out=out)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    kind = "synthetic" if result.synthetic else "real"
    render.console.print(f"[green]data card of {result.dataset}[/] ({kind}, manifest {result.manifest_version})")
    render.console.print(f"  markdown  {result.markdown}\n  html      {result.html}")
    shapes = ", ".join(f"{s} ×{n}" for s, n in result.shapes.items())
    render.console.print(
        f"  {result.volumes} volume(s) · {shapes} · vessel fraction {result.vessel_fraction_mean:.3g} "
        f"({result.vessel_fraction_min:.3g}–{result.vessel_fraction_max:.3g})"
    )
    if result.missing:
        render.console.print(f"  [yellow]absent sources:[/] {', '.join(result.missing)}")
