"""Calibration of voxel-wise vessel probabilities: ECE, MCE, Brier and NLL per volume, per region and pooled.

Conventions (the same in :mod:`.reliability`):

* ``prob`` is the predicted probability of the **positive class** (vessel) per voxel, in [0, 1]; ``label`` is
  the binary reference. The "confidence" that is binned is this positive-class probability itself, as in
  torchmetrics' ``BinaryCalibrationError`` (not the top-label confidence max(p, 1 - p)); the observed
  frequency of a bin is the fraction of its voxels labelled vessel. So a reliability diagram spans p in
  [0, 1], and the many confident background voxels sit in the first bin.
* Binning is torchmetrics': ``n_bins`` equal-width bins ``edges[i] <= p < edges[i + 1]`` with ``edges =
  torch.linspace(0, 1, n_bins + 1)``, plus one extra slot for voxels with p exactly 1.0 (torchmetrics'
  ``bucketize(..., right=True)`` puts them past the last edge; softmax outputs of 1.0 are common in float32).
  Probabilities are converted to float64 before binning, so a float32 map can differ from torchmetrics called
  on the float32 tensor only for a voxel that lies within rounding of a bin edge.
* ECE = Σ_b (n_b / N) |mean p_b - freq_b| (torchmetrics ``norm="l1"``); MCE = max_b |mean p_b - freq_b| over
  non-empty bins (``norm="max"``); Brier = mean (p - y)²; NLL = mean binary cross-entropy with p clipped to
  [NLL_EPS, 1 - NLL_EPS] (NLL_EPS = 1e-7, so one voxel contributes at most ≈ 16.1 nats).
* An empty region gives NaN metrics with ``n_voxels = 0`` (they serialise to JSON as ``NaN``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
import torch
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage
from torchmetrics.functional.classification import binary_calibration_error

logger = logging.getLogger(__name__)

ArrayInput: TypeAlias = NDArray[np.generic] | torch.Tensor
"""A numpy array or torch tensor (detached and moved to the CPU before use)."""

Region: TypeAlias = Literal["foreground", "volume"]
"""``"foreground"``: (label ∪ predicted vessel) dilated (:func:`foreground_roi`); ``"volume"``: every voxel."""

REGIONS: tuple[Region, ...] = ("foreground", "volume")
DEFAULT_N_BINS = 15
DEFAULT_DILATION_VOXELS = 3
NLL_EPS = 1e-7


def _to_numpy(x: object, name: str) -> NDArray[np.generic]:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.double() if x.dtype in (torch.bfloat16, torch.float16) else x).numpy()
    if isinstance(x, np.ndarray):
        return x
    raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}.")


def binary_array(x: ArrayInput, name: str) -> NDArray[np.bool_]:
    """Return ``x`` as a boolean array; it must be bool or hold only 0 and 1.

    Raises:
        ValueError: If ``x`` is not numpy/torch or holds other values (NaN included).
    """
    arr = _to_numpy(x, name)
    if arr.dtype == np.bool_:
        return np.asarray(arr, dtype=np.bool_)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold bool, integer or float values, got dtype {arr.dtype}.")
    if not bool(((arr == 0) | (arr == 1)).all()):
        raise ValueError(f"{name} is not binary (values other than 0 and 1); pass a 0/1 or boolean mask.")
    return np.asarray(arr, dtype=np.bool_)


def probability_array(x: ArrayInput, name: str = "prob") -> NDArray[np.float64]:
    """Return ``x`` as float64 probabilities; every value must be finite and in [0, 1].

    Raises:
        ValueError: If ``x`` is not numeric, holds NaN/inf or values outside [0, 1] (e.g. logits).
    """
    arr = _to_numpy(x, name)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}.")
    out = np.asarray(arr, dtype=np.float64)
    if not bool(np.isfinite(out).all()):
        raise ValueError(f"{name} contains NaN or infinite values; fix the model output first.")
    if out.size and (out.min() < 0.0 or out.max() > 1.0):
        raise ValueError(
            f"{name} must be probabilities in [0, 1], got values in [{out.min():.4g}, {out.max():.4g}]; "
            "apply a softmax/sigmoid to logits first (e.g. temperature.vessel_probability)."
        )
    return out


def calibration_voxels(
    prob: ArrayInput, label: ArrayInput, region: ArrayInput | None = None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Validate a probability map and its label and return the voxels of ``region`` as flat arrays.

    Args:
        prob: Vessel probability per voxel, e.g. (X, Y, Z), values in [0, 1].
        label: Binary reference, same shape.
        region: Optional boolean (or 0/1) mask of the voxels to keep, same shape; None keeps all.

    Returns:
        ``(p, y)``: float64 probabilities and boolean labels of the selected voxels, 1-D.

    Raises:
        ValueError: On a shape mismatch, probabilities outside [0, 1] or non-binary label/region.
    """
    shapes = {"prob": tuple(prob.shape), "label": tuple(label.shape)}
    if region is not None:
        shapes["region"] = tuple(region.shape)
    if len(set(shapes.values())) != 1:
        raise ValueError(f"prob, label and region must have the same shape, got {shapes}.")
    p, y = probability_array(prob), binary_array(label, "label")
    if region is None:
        return p.ravel(), y.ravel()
    keep = binary_array(region, "region")
    return p[keep], y[keep]


def foreground_roi(
    label: ArrayInput, pred_mask: ArrayInput, dilation_voxels: int = DEFAULT_DILATION_VOXELS
) -> NDArray[np.bool_]:
    """The region where vessel calibration is judged: (label ∪ predicted vessel), dilated.

    Dilation uses the full-connectivity structuring element (3×3×3 in 3D) ``dilation_voxels`` times, so the
    ROI is every voxel within Chebyshev distance ``dilation_voxels`` (in voxels, whatever the spacing) of a
    labelled or predicted vessel voxel. It keeps the vessel walls and their near background, where
    miscalibration matters, and drops the far background that dominates whole-volume metrics.

    Args:
        label: Binary reference (any number of dimensions).
        pred_mask: Binary predicted vessel mask, same shape (e.g. ``prob >= 0.5``).
        dilation_voxels: Dilation radius in voxels, >= 0. Defaults to 3.

    Returns:
        A boolean array of the same shape; empty if both masks are empty.

    Raises:
        ValueError: On a shape mismatch, non-binary masks or a negative radius.
    """
    if dilation_voxels < 0:
        raise ValueError(f"dilation_voxels must be >= 0, got {dilation_voxels}.")
    if tuple(label.shape) != tuple(pred_mask.shape):
        raise ValueError(
            f"label and pred_mask must have the same shape, got {tuple(label.shape)} and {tuple(pred_mask.shape)}."
        )
    union = binary_array(label, "label") | binary_array(pred_mask, "pred_mask")
    if dilation_voxels == 0 or not union.any():  # scipy treats iterations=0 as "until nothing changes"
        return union
    structure = ndimage.generate_binary_structure(union.ndim, union.ndim)
    return np.asarray(ndimage.binary_dilation(union, structure=structure, iterations=dilation_voxels), dtype=np.bool_)


def check_n_bins(n_bins: int) -> None:
    """Reject a bin count that is not an integer >= 1 (``ValueError``)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}.")


def bin_edges(n_bins: int = DEFAULT_N_BINS) -> NDArray[np.float64]:
    """torchmetrics' bin edges, ``torch.linspace(0, 1, n_bins + 1)`` in float64.

    Raises:
        ValueError: If ``n_bins`` is not an integer >= 1.
    """
    check_n_bins(n_bins)
    return torch.linspace(0, 1, n_bins + 1, dtype=torch.float64).numpy()


@dataclass(frozen=True, eq=False)
class CalibrationBins:
    """Per-bin sums of a reliability diagram (torchmetrics' binning, see the module docstring).

    Arrays have ``n_bins + 1`` entries: slot ``i < n_bins`` counts ``edges[i] <= p < edges[i + 1]``, the last
    slot counts p == 1.0 exactly. Sums (not means) make bins of several volumes add up exactly.
    """

    edges: NDArray[np.float64]
    counts: NDArray[np.int64]
    confidence_sum: NDArray[np.float64]
    label_sum: NDArray[np.float64]

    @classmethod
    def from_voxels(cls, p: NDArray[np.float64], y: NDArray[np.bool_], n_bins: int = DEFAULT_N_BINS) -> CalibrationBins:
        """Bin flat, already-validated probabilities ``p`` and labels ``y`` (see :func:`calibration_voxels`)."""
        edges = bin_edges(n_bins)
        index = np.searchsorted(edges, p, side="right") - 1  # == torch.bucketize(p, edges, right=True) - 1
        slots = n_bins + 1
        return cls(
            edges=edges,
            counts=np.bincount(index, minlength=slots).astype(np.int64),
            confidence_sum=np.bincount(index, weights=p, minlength=slots).astype(np.float64),
            label_sum=np.bincount(index, weights=y.astype(np.float64), minlength=slots).astype(np.float64),
        )

    def __add__(self, other: CalibrationBins) -> CalibrationBins:
        if not np.array_equal(self.edges, other.edges):
            raise ValueError(f"cannot add bins with {self.n_bins} and {other.n_bins} bins; use the same n_bins.")
        return CalibrationBins(
            self.edges,
            self.counts + other.counts,
            self.confidence_sum + other.confidence_sum,
            self.label_sum + other.label_sum,
        )

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def n_voxels(self) -> int:
        return int(self.counts.sum())

    @property
    def mean_confidence(self) -> NDArray[np.float64]:
        """Mean positive-class probability per slot; NaN for empty slots."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.confidence_sum / self.counts, np.nan)

    @property
    def observed_frequency(self) -> NDArray[np.float64]:
        """Fraction of voxels labelled vessel per slot; NaN for empty slots."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.label_sum / self.counts, np.nan)

    def ece(self) -> float:
        """Expected calibration error from the bins; NaN without voxels."""
        n = self.n_voxels
        return math.fsum(np.abs(self.confidence_sum - self.label_sum)) / n if n else math.nan

    def mce(self) -> float:
        """Maximum calibration error over non-empty bins; NaN without voxels."""
        gaps = np.abs(self.mean_confidence - self.observed_frequency)[self.counts > 0]
        return float(gaps.max()) if gaps.size else math.nan


class CalibrationMetrics(BaseModel):
    """Calibration of one set of voxels (a region of a volume, or pooled over volumes)."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    ece: float = Field(description="Expected calibration error (L1, positive-class binning); NaN if no voxel.")
    mce: float = Field(description="Maximum calibration error over non-empty bins; NaN if no voxel.")
    brier: float = Field(description="Mean squared error (p - y)²; NaN if no voxel.")
    nll: float = Field(description=f"Mean binary cross-entropy, p clipped to [{NLL_EPS}, 1 - {NLL_EPS}] (nats).")
    n_voxels: int = Field(ge=0, description="Number of voxels the metrics cover.")


def _brier_nll_sums(p: NDArray[np.float64], y: NDArray[np.bool_]) -> tuple[float, float]:
    clipped = np.clip(p, NLL_EPS, 1.0 - NLL_EPS)
    nll = -np.where(y, np.log(clipped), np.log1p(-clipped))
    return math.fsum((p - y) ** 2), math.fsum(nll)


def _empty_metrics() -> CalibrationMetrics:
    return CalibrationMetrics(ece=math.nan, mce=math.nan, brier=math.nan, nll=math.nan, n_voxels=0)


def _metrics_from_voxels(p: NDArray[np.float64], y: NDArray[np.bool_], n_bins: int) -> CalibrationMetrics:
    if p.size == 0:
        return _empty_metrics()
    preds, target = torch.from_numpy(p), torch.from_numpy(y.astype(np.int64))
    ece = binary_calibration_error(preds, target, n_bins=n_bins, norm="l1", validate_args=False)
    mce = binary_calibration_error(preds, target, n_bins=n_bins, norm="max", validate_args=False)
    brier_sum, nll_sum = _brier_nll_sums(p, y)
    return CalibrationMetrics(
        ece=float(ece), mce=float(mce), brier=brier_sum / p.size, nll=nll_sum / p.size, n_voxels=int(p.size)
    )


def calibration_metrics(
    prob: ArrayInput, label: ArrayInput, region: ArrayInput | None = None, n_bins: int = DEFAULT_N_BINS
) -> CalibrationMetrics:
    """ECE, MCE (torchmetrics ``binary_calibration_error``), Brier and NLL of a probability map.

    Args:
        prob: Vessel (positive-class) probability per voxel, values in [0, 1].
        label: Binary reference, same shape.
        region: Optional mask of the voxels to score (e.g. :func:`foreground_roi`); None scores all.
        n_bins: Number of equal-width confidence bins. Defaults to 15.

    Returns:
        The metrics; NaN values with ``n_voxels = 0`` when the region is empty.

    Raises:
        ValueError: On a shape mismatch, probabilities outside [0, 1], non-binary label/region or bad n_bins.
    """
    check_n_bins(n_bins)
    p, y = calibration_voxels(prob, label, region)
    return _metrics_from_voxels(p, y, n_bins)


@dataclass
class _Totals:
    bins: CalibrationBins
    brier_sum: float = 0.0
    nll_sum: float = 0.0

    def add(self, p: NDArray[np.float64], y: NDArray[np.bool_]) -> None:
        self.bins = self.bins + CalibrationBins.from_voxels(p, y, self.bins.n_bins)
        brier_sum, nll_sum = _brier_nll_sums(p, y)
        self.brier_sum += brier_sum
        self.nll_sum += nll_sum

    def metrics(self) -> CalibrationMetrics:
        b, n = self.bins, self.bins.n_voxels
        if n == 0:
            return _empty_metrics()
        return CalibrationMetrics(ece=b.ece(), mce=b.mce(), brier=self.brier_sum / n, nll=self.nll_sum / n, n_voxels=n)


class VolumeCalibration(BaseModel):
    """Calibration of one volume in both regions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Volume identifier (file stem, or its index when none was given).")
    foreground: CalibrationMetrics = Field(description="Within the dilated (label ∪ prediction) ROI.")
    volume: CalibrationMetrics = Field(description="Over every voxel of the volume.")


class CalibrationReport(BaseModel):
    """Per-volume and pooled calibration of a set of volumes (an inspectable JSON artifact)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_bins: int = Field(description="Number of equal-width confidence bins.")
    dilation_voxels: int = Field(description="Radius of the foreground ROI dilation, in voxels.")
    threshold: float = Field(description="Probability threshold of the predicted mask used for the ROI.")
    per_volume: list[VolumeCalibration] = Field(description="One entry per volume, in the order added.")
    pooled: dict[Region, CalibrationMetrics] = Field(description="Over all voxels of all volumes, per region.")


@dataclass
class CalibrationAccumulator:
    """Collects volumes; gives per-volume metrics and exactly pooled metrics for both regions.

    Pooled metrics treat all voxels of all volumes (within the region) as one sample. They are computed from
    per-bin counts and sums, which add exactly over volumes, so the pooled ECE/MCE equal torchmetrics' value on
    the concatenated voxels (up to float64 summation order) while memory stays O(n_bins), not O(voxels).

    Args:
        n_bins: Number of equal-width confidence bins. Defaults to 15.
        dilation_voxels: Radius of the foreground ROI (:func:`foreground_roi`). Defaults to 3.
        threshold: ``prob >= threshold`` is the predicted mask for the ROI unless ``add`` gets one.
    """

    n_bins: int = DEFAULT_N_BINS
    dilation_voxels: int = DEFAULT_DILATION_VOXELS
    threshold: float = 0.5
    _volumes: list[VolumeCalibration] = field(default_factory=list, init=False, repr=False)
    _totals: dict[Region, _Totals] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        check_n_bins(self.n_bins)
        if self.dilation_voxels < 0:
            raise ValueError(f"dilation_voxels must be >= 0, got {self.dilation_voxels}.")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], got {self.threshold}.")
        empty = CalibrationBins.from_voxels(np.zeros(0), np.zeros(0, dtype=np.bool_), self.n_bins)
        self._totals = {region: _Totals(empty) for region in REGIONS}

    def add(
        self, prob: ArrayInput, label: ArrayInput, *, name: str | None = None, pred_mask: ArrayInput | None = None
    ) -> VolumeCalibration:
        """Score one volume in both regions and add its voxels to the pooled totals.

        Args:
            prob: Vessel probability per voxel (X, Y, Z), in [0, 1].
            label: Binary reference, same shape.
            name: Identifier stored with the result. Defaults to the volume's index.
            pred_mask: Predicted vessel mask for the ROI. Defaults to ``prob >= threshold``.

        Returns:
            The volume's metrics (also kept for :meth:`report`).

        Raises:
            ValueError: On invalid inputs (see :func:`calibration_voxels`).
        """
        p_all, y_all = calibration_voxels(prob, label)
        p, y = p_all.reshape(tuple(prob.shape)), y_all.reshape(tuple(prob.shape))
        mask = p >= self.threshold if pred_mask is None else pred_mask
        roi = foreground_roi(y, mask, self.dilation_voxels)
        per_region: dict[Region, CalibrationMetrics] = {}
        for region in REGIONS:
            p_r, y_r = (p[roi], y[roi]) if region == "foreground" else (p_all, y_all)
            per_region[region] = _metrics_from_voxels(p_r, y_r, self.n_bins)
            self._totals[region].add(p_r, y_r)
        result = VolumeCalibration(
            name=name if name is not None else str(len(self._volumes)),
            foreground=per_region["foreground"],
            volume=per_region["volume"],
        )
        self._volumes.append(result)
        logger.debug("calibration %s: foreground ECE %.4f", result.name, result.foreground.ece)
        return result

    @property
    def per_volume(self) -> list[VolumeCalibration]:
        """Per-volume results in the order added."""
        return list(self._volumes)

    def pooled_bins(self, region: Region) -> CalibrationBins:
        """The pooled bins of a region (for a reliability diagram of all volumes)."""
        return self._totals[region].bins

    def pooled(self) -> dict[Region, CalibrationMetrics]:
        """Metrics over all voxels of all volumes added so far, per region (NaN before any volume)."""
        return {region: self._totals[region].metrics() for region in REGIONS}

    def report(self) -> CalibrationReport:
        """Everything gathered so far, as a serialisable report."""
        return CalibrationReport(
            n_bins=self.n_bins,
            dilation_voxels=self.dilation_voxels,
            threshold=self.threshold,
            per_volume=self.per_volume,
            pooled=self.pooled(),
        )
