"""Conformal FNR control for a run: the threshold t̂ on its calibration split, stored with the run.

The calibration split is the run's validation split (the model never trained on it). Probabilities are the
run's temperature-scaled ones (the temperature is part of the stored result: a later `calibrate` changes the
probabilities, so a threshold made at another temperature is recomputed, never reused). The test split,
when the run has one, gives the empirical per-volume FNR at t̂.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from minivess.errors import ConfigError
from minivess.pipelines.data.splits import SplitName
from minivess.pipelines.tracking.mlflow_run import RunRecorder
from minivess.pipelines.training.evaluation import OpenedRun, open_run, split_logits
from minivess.pipelines.uncertainty.conformal import (
    CalibrationDataError,
    crc_fnr_threshold,
    fnr,
    min_calibration_volumes,
)
from minivess.pipelines.uncertainty.temperature import vessel_probability
from minivess.settings import Settings

logger = logging.getLogger(__name__)

CALIBRATION_SPLIT: Final[SplitName] = "val"
GUARANTEE: Final = (
    "on average over calibration draws and new volumes, the conformal mask misses at most alpha of the vessel "
    "voxels; single volumes can miss more (see the per-volume spread)"
)


def threshold_tag(alpha: float) -> str:
    """The run tag holding the threshold for ``alpha`` (tags, unlike params, can be updated)."""
    return f"minivess.conformal.fnr_{alpha:g}"


class ConformalReport(BaseModel):
    run_id: str
    alpha: float
    threshold: float
    calibration_split: str
    n_calibration: int
    calibration_fnr: float
    test_fnr_mean: float | None
    test_fnr_per_volume: dict[str, float]
    guarantee: str = GUARANTEE


def _probabilities(run: OpenedRun, split: SplitName) -> tuple[list[str], list[NDArray[Any]], list[NDArray[Any]]]:
    ids, probs, labels = [], [], []
    for volume in split_logits(run, split):
        ids.append(volume.id)
        probs.append(vessel_probability(volume.logits, run.temperature))
        labels.append(volume.label)
    return ids, probs, labels


def check_alpha(alpha: float) -> None:
    """alpha is a fraction of vessel voxels: strictly between 0 and 1 (ConfigError, also a ValueError)."""
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be between 0 and 1 (e.g. 0.05 for 5 % missed vessel voxels), got {alpha}.")


def conformal_calibrate(run_ref: str, settings: Settings, alpha: float) -> ConformalReport:
    """Fit t̂ for ``alpha`` on the run's validation split, check it on test, store it on the run.

    Raises:
        ValueError: alpha outside (0, 1).
        DataError: The validation split is empty or has fewer volumes than ``min_calibration_volumes(alpha)``.
    """
    check_alpha(alpha)
    return _calibrate(open_run(run_ref, settings), alpha)


def _calibrate(run: OpenedRun, alpha: float) -> ConformalReport:
    needed = min_calibration_volumes(alpha)
    have = len(run.splits.get(CALIBRATION_SPLIT))
    if have == 0:
        raise CalibrationDataError(
            f"run {run.run_id} has no validation split to calibrate the threshold on; train with data.val_fraction > 0."
        )
    if have < needed:
        raise CalibrationDataError(
            f"alpha={alpha:g} needs at least {needed} calibration volumes (B/(n+1) <= alpha), but run "
            f"{run.run_id[:8]}'s validation split has {have}. Use a larger alpha (>= {1 / (have + 1):.2f}) or "
            "train on a dataset with more validation volumes (data.val_fraction)."
        )
    _, probs, labels = _probabilities(run, CALIBRATION_SPLIT)
    result = crc_fnr_threshold(probs, labels, alpha)
    test_fnr: dict[str, float] = {}
    if run.splits.test:
        ids, test_probs, test_labels = _probabilities(run, "test")
        test_fnr = {vid: fnr(p, y, result.threshold) for vid, p, y in zip(ids, test_probs, test_labels, strict=True)}
    report = ConformalReport(
        run_id=run.run_id,
        alpha=alpha,
        threshold=result.threshold,
        calibration_split=CALIBRATION_SPLIT,
        n_calibration=result.n_calibration,
        calibration_fnr=result.calibration_risk,
        test_fnr_mean=float(np.mean(list(test_fnr.values()))) if test_fnr else None,
        test_fnr_per_volume=test_fnr,
    )
    recorder = RunRecorder(run.client, run.run_id)
    stored = {"threshold": result.threshold, "temperature": run.temperature, "n_calibration": result.n_calibration}
    recorder.set_tags({threshold_tag(alpha): json.dumps(stored)})
    metrics = {f"conformal_threshold_fnr_{alpha:g}": result.threshold}
    if report.test_fnr_mean is not None:
        metrics[f"test_fnr_at_{alpha:g}"] = report.test_fnr_mean
    recorder.log_metrics(metrics, step=0)
    return report


def stored_threshold(run: OpenedRun, alpha: float) -> float | None:
    """The run's stored threshold for ``alpha``, if it was made at the run's current temperature."""
    raw = run.client.get_run(run.run_id).data.tags.get(threshold_tag(alpha))
    if not raw:
        return None
    try:
        stored = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not np.isclose(float(stored.get("temperature", 1.0)), run.temperature):
        return None
    return float(stored["threshold"])


def threshold_for(run_ref: str, settings: Settings, alpha: float) -> float:
    """The conformal threshold for ``alpha``: stored, or calibrated now (and stored)."""
    check_alpha(alpha)
    run = open_run(run_ref, settings)
    found = stored_threshold(run, alpha)
    if found is not None:
        return found
    return _calibrate(run, alpha).threshold
