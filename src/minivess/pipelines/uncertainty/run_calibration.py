"""Temperature scaling for a run: fit on validation, measure on test, store with the run.

The temperature is fitted (NLL, one scalar) on a fixed-seed subsample of validation voxels inside the
foreground region of interest — the voxels whose calibration matters; whole-volume voxels are mostly
certain background. Test-split ECE/MCE/Brier/NLL before (T = 1) and after are logged as ``test_*_before`` and
``test_*``, the temperature as the metric ``calibration_temperature`` (latest value wins: `evaluate` and
`predict` apply it) and the param ``calibration.temperature`` (first fit; MLflow params cannot change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

import numpy as np
from mlflow.exceptions import MlflowException
from pydantic import BaseModel

from minivess.errors import DataError
from minivess.fileio import write_json_atomic
from minivess.pipelines.governance import lineage
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import RunRecorder
from minivess.pipelines.training.evaluation import OpenedRun, calibration_summary, open_run, split_logits
from minivess.pipelines.uncertainty.calibration import CalibrationAccumulator, CalibrationMetrics, foreground_roi
from minivess.pipelines.uncertainty.reliability import reliability_diagram_png
from minivess.pipelines.uncertainty.temperature import fit_temperature, sample_voxels, vessel_probability
from minivess.settings import Settings

logger = logging.getLogger(__name__)

FIT_SPLIT: Final = "val"
EVAL_SPLIT: Final = "test"
FIT_VOXELS: Final = 200_000
FIT_SEED: Final = 0
CALIBRATION_DIR: Final = "calibration"


class CalibrationRunReport(BaseModel):
    run_id: str
    temperature: float
    fit_split: str
    eval_split: str
    n_fit_voxels: int
    before: dict[str, CalibrationMetrics]
    after: dict[str, CalibrationMetrics]
    reliability_diagram: str


def _fit(run: OpenedRun, on_volume: Callable[[str], None] | None) -> tuple[float, int]:
    """Temperature from validation voxels in each volume's foreground ROI (equal share per volume)."""
    ids = run.splits.get(FIT_SPLIT)
    if not ids:
        raise DataError(
            f"run {run.run_id} has no validation split to fit a temperature on; train with data.val_fraction > 0."
        )
    rng = np.random.default_rng(FIT_SEED)
    per_volume = max(1, FIT_VOXELS // len(ids))
    margins, labels = [], []
    for volume in split_logits(run, FIT_SPLIT):
        mask = volume.logits.argmax(dim=0).numpy().astype(bool)
        m, y = sample_voxels(volume.logits, volume.label, foreground_roi(volume.label, mask), per_volume, rng)
        margins.append(m)
        labels.append(y)
        if on_volume:
            on_volume(volume.id)
    fit = fit_temperature(np.concatenate(margins), np.concatenate(labels))
    return float(fit.temperature), int(fit.n_voxels)


@lineage.job("calibrate")
def calibrate_run(
    run_ref: str, settings: Settings, on_volume: Callable[[str], None] | None = None
) -> CalibrationRunReport:
    """Fit, measure before/after on test, draw the reliability diagram, log everything to the run.

    Raises:
        DataError: The run has no validation or no test volumes.
    """
    run = open_run(run_ref, settings)
    if not run.splits.get(EVAL_SPLIT):
        raise DataError(f"run {run.run_id} has no test split to measure calibration on.")
    temperature, n_voxels = _fit(run, on_volume)
    before, after = CalibrationAccumulator(), CalibrationAccumulator()
    for volume in split_logits(run, EVAL_SPLIT):
        mask = volume.logits.argmax(dim=0).numpy().astype(bool)  # the mask (and so the ROI) does not depend on T
        before.add(vessel_probability(volume.logits, 1.0), volume.label, name=volume.id, pred_mask=mask)
        after.add(vessel_probability(volume.logits, temperature), volume.label, name=volume.id, pred_mask=mask)
        if on_volume:
            on_volume(volume.id)
    folder = run.folder / CALIBRATION_DIR
    diagram = reliability_diagram_png(
        folder / "reliability.png",
        {
            "before (T = 1)": before.pooled_bins("foreground"),
            f"after (T = {temperature:.2f})": after.pooled_bins("foreground"),
        },
        title=f"run {run.run_id[:8]}: {EVAL_SPLIT} split, vessel region",
    )
    report = CalibrationRunReport(
        run_id=run.run_id,
        temperature=temperature,
        fit_split=FIT_SPLIT,
        eval_split=EVAL_SPLIT,
        n_fit_voxels=n_voxels,
        before=before.pooled(),
        after=after.pooled(),
        reliability_diagram=str(diagram),
    )
    write_json_atomic(
        folder / "calibration.json",
        {
            **report.model_dump(mode="json"),
            "per_volume_before": before.report().model_dump(mode="json"),
            "per_volume_after": after.report().model_dump(mode="json"),
        },
    )
    _log(run, report, before, after)
    return report


def _log(
    run: OpenedRun,
    report: CalibrationRunReport,
    before: CalibrationAccumulator,
    after: CalibrationAccumulator,
) -> None:
    recorder = RunRecorder(run.client, run.run_id)
    metrics = {naming.METRIC_TEMPERATURE: report.temperature}
    metrics.update({f"{EVAL_SPLIT}_{k}_before": v for k, v in calibration_summary(before).items()})
    metrics.update({f"{EVAL_SPLIT}_{k}": v for k, v in calibration_summary(after).items()})
    recorder.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)}, step=0)
    params = {
        "calibration.fit_split": FIT_SPLIT,
        "calibration.fit_voxels": str(report.n_fit_voxels),
        "calibration.seed": str(FIT_SEED),
        "calibration.temperature": f"{report.temperature:.6g}",
    }
    existing = run.client.get_run(run.run_id).data.params
    fresh = {k: v for k, v in params.items() if k not in existing}
    if fresh:
        try:
            recorder.log_params(fresh)
        except MlflowException:  # a param written meanwhile by another process
            logger.warning(
                "calibration params of run %s already logged; the metric holds the current value", run.run_id
            )
    recorder.log_artifact(run.folder / CALIBRATION_DIR, CALIBRATION_DIR)
