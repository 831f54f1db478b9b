"""`minivess train | evaluate | predict`: the training pipeline from the terminal.

Pipelines are imported inside the commands: torch, MONAI and MLflow take seconds to import, and
`minivess --help` should not wait for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.cli.tracing import traced_command
from minivess.errors import ConfigError

SPLITS = ("train", "val", "test")
ENGINES = ("torch", "onnx")


def train(
    config: str | None = typer.Option(None, "--config", "-c", help="Preset name in ./configs or a YAML path."),
    overrides: list[str] = typer.Option([], "--set", "-s", help="Dotted override, e.g. --set trainer.epochs=2."),
    resume: str | None = typer.Option(None, "--resume", help="Continue this run id from its last checkpoint."),
) -> None:
    """Train a segmentation model; every epoch is logged to MLflow and checkpointed for --resume."""
    from minivess.configs.loading import load_experiment
    from minivess.observability import get_tracer
    from minivess.observability.job_metrics import JobMetrics, MetricsTrainingObserver
    from minivess.observability.training import traced_training
    from minivess.pipelines.tracking.naming import TAG_TRACE_ID
    from minivess.pipelines.training import runs

    if resume and (config or overrides):
        raise ConfigError("--resume continues a run with its saved config; drop --config/--set.")
    settings = get_settings()
    name = "train.resume" if resume else "train"
    inputs = {"resume": resume} if resume else {"config": config, "overrides": list(overrides)}
    # HOME/metrics/train-<run>.prom after every epoch and at the end (+ the Pushgateway when configured); one
    # trace with an event per epoch, linked both ways with the MLflow run (its `minivess.trace_id` tag)
    with (
        traced_command(name, settings, inputs),
        JobMetrics("train", settings) as metrics,
        render.TrainingProgress() as progress,
    ):
        cfg = None if resume else load_experiment(config, overrides)

        def start(observer: Any, tags: dict[str, str]) -> Any:
            return runs.train(cfg, settings, observer, tags) if cfg else runs.resume(resume or "", settings, observer)

        result = traced_training(
            get_tracer(settings), MetricsTrainingObserver(progress, metrics), start, name=name, summary=inputs,
            trace_tag=TAG_TRACE_ID, describe=runs.result_summary,
        )  # fmt: skip
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

    settings = get_settings()
    with traced_command("evaluate", settings, {"run": run_id, "split": split}) as trace:
        result = evaluation.evaluate_run(run_id, settings, split=split)  # type: ignore[arg-type]
        trace.update(output=result.summary, metadata={"mlflow_run_id": result.run_id})
    render.console.print(render.metrics_table(f"run {result.run_id} · {split}", result.per_volume, result.summary))


def predict(
    run_id: str = typer.Argument(..., help="Run id (or 'last')."),
    image: Path = typer.Argument(..., help="Input NIfTI volume."),
    out: Path = typer.Option(..., "--out", "-o", help="Output mask (NIfTI, same grid and spacing)."),
    uncertainty: Path | None = typer.Option(
        None, "--uncertainty", help="Also write the per-voxel predictive entropy (NIfTI float32) here."
    ),
    risk_fnr: float | None = typer.Option(
        None, "--risk-fnr", help="Conformal mask missing at most this mean fraction of vessel voxels (e.g. 0.05)."
    ),
    engine: str = typer.Option(
        "torch", "--engine", help="torch (the run's network) or onnx (ONNX Runtime over `minivess export RUN`)."
    ),
) -> None:
    """Segment one volume with a run's model (sliding window); spacing and affine are preserved.

    RUN is a run id, prefix, 'last', or a registry alias ('champion'). The run's calibration temperature is
    applied when it has one; with --risk-fnr the mask is the conformal one (threshold calibrated on the run's
    validation split, see `minivess conformal`). Both apply with either engine.
    """
    from minivess.pipelines.training import evaluation

    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine}: choose one of {', '.join(ENGINES)}.")
    predictor_for = None
    if engine == "onnx":
        from minivess.pipelines.serving.onnx_run import onnx_predictor

        predictor_for = onnx_predictor

    threshold = None
    settings = get_settings()
    inputs = {"run": run_id, "image": str(image), "out": str(out), "engine": engine, "risk_fnr": risk_fnr}
    with traced_command("predict", settings, inputs) as trace:
        if risk_fnr is not None:
            from minivess.pipelines.uncertainty import run_conformal

            run_conformal.check_alpha(risk_fnr)
            threshold = run_conformal.threshold_for(run_id, settings, risk_fnr)
        result = evaluation.predict_file(
            run_id, image, out, settings, threshold=threshold, uncertainty_path=uncertainty,
            predictor_for=predictor_for,
        )  # fmt: skip
        from minivess.pipelines.governance.drift import training_range_warnings

        warnings = training_range_warnings(settings, run_id, image, result.mask_path)
        trace.update(output={"mask": str(result.mask_path), "vessel_fraction": result.vessel_fraction,
                             "drift_warnings": warnings})  # fmt: skip
    render.console.print(f"[green]wrote {result.mask_path}[/] (vessel fraction {result.vessel_fraction:.4f})")
    if threshold is not None:
        render.console.print(f"conformal threshold p >= {threshold:.4f} (alpha {risk_fnr:g})")
    if result.uncertainty_path is not None:
        render.console.print(f"[green]wrote {result.uncertainty_path}[/] (predictive entropy, nats)")
    for warning in warnings:
        label = "" if warning.startswith("no drift check") else "drift warning: "
        render.err_console.print(f"[yellow]{label}{warning}", soft_wrap=True)
