"""`minivess train | evaluate | predict`: the training pipeline from the terminal.

Pipelines are imported inside the commands: torch, MONAI and MLflow take seconds to import, and
`minivess --help` should not wait for them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.errors import ConfigError

SPLITS = ("train", "val", "test")


def train(
    config: str | None = typer.Option(None, "--config", "-c", help="Preset name in ./configs or a YAML path."),
    overrides: list[str] = typer.Option([], "--set", "-s", help="Dotted override, e.g. --set trainer.epochs=2."),
    resume: str | None = typer.Option(None, "--resume", help="Continue this run id from its last checkpoint."),
) -> None:
    """Train a segmentation model; every epoch is logged to MLflow and checkpointed for --resume."""
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.training import runs

    settings = get_settings()
    with render.TrainingProgress() as observer:
        if resume:
            if config or overrides:
                raise ConfigError("--resume continues a run with its saved config; drop --config/--set.")
            result = runs.resume(resume, settings, observer)
        else:
            result = runs.train(load_experiment(config, overrides), settings, observer)
    best = (
        ""
        if result.best_metric is None
        else f"best {result.metric_name} {result.best_metric:.4f} @ epoch {result.best_epoch}"
    )
    render.console.print(f"run [cyan]{result.run_id}[/]: {result.epochs_completed} epoch(s), {best}")


def evaluate(
    run_id: str = typer.Argument(..., help="Run id (or 'last')."),
    split: str = typer.Option("test", "--split", help="train, val or test."),
) -> None:
    """Evaluate a run's best model on a split; per-volume table, summary logged back to the run."""
    if split not in SPLITS:
        raise ConfigError(f"--split {split}: choose one of {', '.join(SPLITS)}.")
    from minivess.pipelines.training import evaluation

    result = evaluation.evaluate_run(run_id, get_settings(), split=split)  # type: ignore[arg-type]
    render.console.print(render.metrics_table(f"run {result.run_id} · {split}", result.per_volume, result.summary))


def predict(
    run_id: str = typer.Argument(..., help="Run id (or 'last')."),
    image: Path = typer.Argument(..., help="Input NIfTI volume."),
    out: Path = typer.Option(..., "--out", "-o", help="Output mask (NIfTI, same grid and spacing)."),
) -> None:
    """Segment one volume with a run's model (sliding window); spacing and affine are preserved."""
    from minivess.pipelines.training import evaluation

    path = evaluation.predict_file(run_id, image, out, get_settings())
    render.console.print(f"[green]wrote {path}")
