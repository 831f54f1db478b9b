"""`minivess export | serve | app`: the ONNX export, the HTTP segmentation service and the viewer."""

from __future__ import annotations

import typer

from minivess.cli import render
from minivess.cli.context import get_settings


def export(
    run_id: str = typer.Argument(..., help="Run id, prefix, 'last', or a registry alias ('champion')."),
) -> None:
    """Export a run's model to ONNX (patch size fixed, batch dynamic), check it against torch, store it in MLflow.

    The run's `onnx/` artifact then holds model.onnx, input_spec.json and check.json (max |Δ| of logits and of
    vessel probabilities, on random patches and one whole volume of the run's data when it is on disk).
    `minivess predict RUN IMAGE --engine onnx` and `minivess serve` use it.
    """
    from minivess.pipelines.serving.onnx_run import export_run

    result = export_run(run_id, get_settings(), on_step=lambda line: render.console.print(f"[dim]{line}[/]"))
    check = result.check
    render.console.print(
        f"[green]exported run {result.run_id}[/] ({result.spec.adapter}, {result.spec.exporter} exporter, "
        f"opset {result.spec.opset}, input {result.spec.shape}) to {result.folder} in {result.seconds:.1f} s"
    )
    volume = (
        f"; whole volume {check.volume}: {check.volume_max_abs_diff_probability:.2e}"
        if check.volume is not None and check.volume_max_abs_diff_probability is not None
        else "; no volume of the run's data on disk, patches only"
    )
    render.console.print(
        f"ONNX Runtime vs torch: max |Δ probability| {check.max_abs_diff_probability:.2e} "
        f"(|Δ logits| {check.max_abs_diff_logits:.2e}, batches {check.batch_sizes}, T={check.temperature:.3f})"
        f"{volume}; tolerance {check.tolerance:g}"
    )
