"""Conformal risk control of the per-volume false-negative rate (Angelopoulos et al. 2022) for vessel masks."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import DataError

logger = logging.getLogger(__name__)

LOSS_BOUND: Final = 1.0
"""B: an FNR is a fraction, so every per-volume loss lies in [0, 1]."""

# Float rounding of a sum of per-volume fractions (k_i / m_i over millions of voxels) must not turn an exactly
# feasible threshold into an infeasible one; 1e-9 in units of summed FNR is far below any meaningful risk.
_TOLERANCE: Final = 1e-9

FloatArray = NDArray[np.float64]


class CalibrationDataError(DataError, ValueError):
    """Calibration data cannot support the requested risk level, or is malformed (also a ValueError)."""


class ConformalThreshold(BaseModel):
    """A CRC threshold t̂ for the vessel mask {p ≥ t̂} and the numbers behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(description="t̂: predict vessel where probability >= threshold (λ = 1 - t̂).")
    alpha: float = Field(description="Target expected false-negative rate.")
    n_calibration: int = Field(description="Calibration volumes n.")
    n_empty: int = Field(description="Calibration volumes without vessel voxels (loss 0 at every threshold).")
    calibration_risk: float = Field(description="R̂_n(t̂): mean per-volume FNR on the calibration volumes.")
    bound_term: float = Field(description="B / (n + 1), the finite-sample correction.")
    adjusted_risk: float = Field(description="n/(n+1)·R̂_n(t̂) + B/(n+1); at most alpha by construction.")

    @property
    def lam(self) -> float:
        """The paper's λ = 1 - t̂ (larger λ, larger mask)."""
        return 1.0 - self.threshold

    def mask(self, prob: ArrayLike) -> NDArray[np.bool_]:
        """The conformal vessel mask {prob >= threshold}."""
        return np.asarray(prob) >= self.threshold


class SplitResult(BaseModel):
    """One random calibration/test split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float
    calibration_risk: float
    mean_test_fnr: float
    test_fnr: list[float] = Field(description="Per-volume FNR of each test volume at this split's threshold.")


class SplitExperimentResult(BaseModel):
    """Repeated random splits: the empirical check of E[FNR_test(t̂)] <= alpha."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float
    n_volumes: int
    n_calibration: int
    n_splits: int
    seed: int
    splits: list[SplitResult]
    mean_test_fnr: float = Field(description="Mean over splits of the split's mean test FNR (estimates the bound).")
    std_test_fnr: float = Field(description="Standard deviation over splits of the mean test FNR.")
    stderr_test_fnr: float = Field(
        description="std_test_fnr / sqrt(n_splits): Monte Carlo error given this pool of volumes (the splits are "
        "i.i.d. permutations); it ignores the variability of the pool itself."
    )
    mean_threshold: float
    per_volume_fnr_quantiles: dict[str, float] = Field(
        description="Quantiles (keys '0.5', '0.9', '0.95', '1.0') of all per-volume test FNRs pooled over splits."
    )
    fraction_volumes_above_alpha: float = Field(
        description="Share of test volumes whose own FNR exceeds alpha: the guarantee is on average, not per volume."
    )

    def meets_guarantee(self, tolerance: float = 0.01) -> bool:
        """Whether the mean test FNR is at most alpha + tolerance (the acceptance check)."""
        return self.mean_test_fnr <= self.alpha + tolerance


@dataclass(frozen=True)
class _VesselProbs:
    """The vessel-voxel probabilities of a set of volumes: all the FNR losses depend on.

    ``values`` are sorted ascending over all volumes, ``owner[j]`` is the volume of ``values[j]``;
    ``per_volume[i]`` holds volume i's values, sorted (a view into a grouped copy).
    """

    values: FloatArray
    owner: NDArray[np.intp]
    counts: NDArray[np.int64]
    per_volume: list[FloatArray]

    @property
    def n(self) -> int:
        return len(self.counts)


def min_calibration_volumes(alpha: float) -> int:
    """Smallest n for which some threshold is feasible, i.e. B/(n+1) <= alpha: ceil(1/alpha) - 1.

    Raises:
        ValueError: unless 0 < alpha < 1.
    """
    _check_alpha(alpha)
    n = max(math.ceil(1.0 / alpha) - 1, 0)
    # 1/alpha is rounded; step to the exact float boundary the feasibility check uses.
    while LOSS_BOUND / (n + 1) > alpha:
        n += 1
    while n > 0 and LOSS_BOUND / n <= alpha:
        n -= 1
    return n


def fnr(prob: ArrayLike, label: ArrayLike, threshold: float) -> float:
    """False-negative rate of the mask {prob >= threshold}: the fraction of vessel voxels with prob < threshold.

    A volume without vessel voxels misses nothing: its FNR is 0 at every threshold.

    Raises:
        CalibrationDataError: for mismatched shapes, non-binary labels or probabilities outside [0, 1].
    """
    vessel = _vessel_probs(prob, label, index=0)
    return 0.0 if vessel.size == 0 else float(np.count_nonzero(vessel < threshold)) / vessel.size


def crc_fnr_threshold(probs: Sequence[ArrayLike], labels: Sequence[ArrayLike], alpha: float) -> ConformalThreshold:
    """Conformal risk control threshold for the per-volume false-negative rate.

    Angelopoulos, Bates, Fisch, Lei, Schuster (2022), "Conformal Risk Control", arXiv:2208.02814, Thm. 1.
    Volume i's loss at threshold t is L_i(t) = |{v : y_i(v) = 1, p_i(v) < t}| / |{v : y_i(v) = 1}|
    (0 for a volume with no vessel voxels), non-decreasing in t and bounded by B = 1. With
    R̂_n(t) = (1/n) Σ_i L_i(t) over the n calibration volumes,

        t̂ = sup { t ∈ [0, 1] : n/(n+1) · R̂_n(t) + B/(n+1) <= alpha }

    (the paper's λ̂ = inf{λ : ...} with λ = 1 - t). For exchangeable calibration and test volumes,
    E[L_test(t̂)] <= alpha, where the expectation is over the calibration draw *and* the test volume: the
    guarantee is on the average FNR, not on each volume (single volumes can and do exceed alpha).

    The supremum is exact: L_i jumps only just above its vessel probabilities, so the feasible set is
    [0, t*] with t* the smallest vessel probability c whose inclusion (values <= c missed) breaks the bound;
    t* = 1 if no such value exists. Cost: one sort of all vessel-voxel probabilities.

    Args:
        probs: Vessel probability map per calibration volume, values in [0, 1].
        labels: Binary label per volume, same shapes as ``probs``.
        alpha: Target expected FNR, 0 < alpha < 1.

    Returns:
        The threshold and its calibration statistics.

    Raises:
        ValueError: unless 0 < alpha < 1.
        CalibrationDataError: when fewer than ``min_calibration_volumes(alpha)`` volumes are given (no threshold
            is feasible), or for malformed inputs.
    """
    _check_alpha(alpha)
    pool = _pool(probs, labels)
    return _threshold_for(pool, np.arange(pool.n), alpha)


def split_experiment(
    probs: Sequence[ArrayLike],
    labels: Sequence[ArrayLike],
    alpha: float,
    n_splits: int = 50,
    n_calibration: int | None = None,
    seed: int = 0,
) -> SplitExperimentResult:
    """Calibrate on random subsets and measure the FNR on the rest, ``n_splits`` times.

    Args:
        probs: Vessel probability map per volume.
        labels: Binary label per volume.
        alpha: Target expected FNR.
        n_splits: Random calibration/test splits (>= 1).
        n_calibration: Calibration volumes per split; default half the volumes (rounded down), at least
            ``min_calibration_volumes(alpha)``. At least one volume must remain for testing.
        seed: Seed of the permutations.

    Returns:
        Every split's threshold and test FNRs plus their summary.

    Raises:
        ValueError: for alpha outside (0, 1), n_splits < 1 or an n_calibration leaving no test volume.
        CalibrationDataError: when n_calibration is below ``min_calibration_volumes(alpha)``, or malformed inputs.
    """
    _check_alpha(alpha)
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, got {n_splits}")
    pool = _pool(probs, labels)
    n_cal = max(pool.n // 2, min_calibration_volumes(alpha)) if n_calibration is None else n_calibration
    if not 1 <= n_cal < pool.n:
        raise ValueError(
            f"n_calibration must be between 1 and {pool.n - 1} so that a test volume remains; got {n_cal} "
            f"for {pool.n} volumes (alpha={alpha} needs {min_calibration_volumes(alpha)} calibration volumes)"
        )
    rng = np.random.default_rng(seed)
    splits: list[SplitResult] = []
    for _ in range(n_splits):
        order = rng.permutation(pool.n)
        calibrated = _threshold_for(pool, order[:n_cal], alpha)
        test = _volume_fnrs(pool, order[n_cal:], calibrated.threshold)
        splits.append(
            SplitResult(
                threshold=calibrated.threshold,
                calibration_risk=calibrated.calibration_risk,
                mean_test_fnr=float(test.mean()),
                test_fnr=test.tolist(),
            )
        )
    return _summarise(splits, alpha, pool.n, n_cal, seed)


def _summarise(splits: list[SplitResult], alpha: float, n: int, n_cal: int, seed: int) -> SplitExperimentResult:
    means = np.array([split.mean_test_fnr for split in splits])
    pooled = np.concatenate([np.asarray(split.test_fnr) for split in splits])
    std = float(means.std(ddof=1)) if len(splits) > 1 else 0.0
    return SplitExperimentResult(
        alpha=alpha,
        n_volumes=n,
        n_calibration=n_cal,
        n_splits=len(splits),
        seed=seed,
        splits=splits,
        mean_test_fnr=float(means.mean()),
        std_test_fnr=std,
        stderr_test_fnr=std / math.sqrt(len(splits)),
        mean_threshold=float(np.mean([split.threshold for split in splits])),
        per_volume_fnr_quantiles={str(q): float(np.quantile(pooled, q)) for q in (0.5, 0.9, 0.95, 1.0)},
        fraction_volumes_above_alpha=float(np.mean(pooled > alpha)),
    )


def _threshold_for(pool: _VesselProbs, calibration: NDArray[np.intp], alpha: float) -> ConformalThreshold:
    """The exact CRC threshold on the volumes ``calibration`` of ``pool``."""
    n = len(calibration)
    needed = min_calibration_volumes(alpha)
    if n < needed:
        raise CalibrationDataError(
            f"alpha={alpha} needs at least {needed} calibration volumes (B/(n+1) <= alpha, i.e. "
            f"ceil(1/alpha) - 1), but {n} were given; add calibration volumes or raise alpha to at least "
            f"{LOSS_BOUND / (n + 1):.4g}"
        )
    # n/(n+1)·R̂ + B/(n+1) <= alpha  <=>  Σ_i L_i(t) <= (n+1)·alpha - B.
    budget = (n + 1) * alpha - LOSS_BOUND + _TOLERANCE
    selected = np.zeros(pool.n, dtype=bool)
    selected[calibration] = True
    keep = selected[pool.owner]
    values = pool.values[keep]
    # Just above values[j], every value <= values[j] is missed: cum[j] (at a tie group's last index) is Σ_i L_i there.
    cum = np.cumsum(1.0 / pool.counts[pool.owner[keep]])
    first_over = int(np.searchsorted(cum, budget, side="right"))
    threshold = float(values[first_over]) if first_over < len(values) else 1.0
    risk = float(_volume_fnrs(pool, calibration, threshold).mean())
    return ConformalThreshold(
        threshold=threshold,
        alpha=alpha,
        n_calibration=n,
        n_empty=int(np.count_nonzero(pool.counts[calibration] == 0)),
        calibration_risk=risk,
        bound_term=LOSS_BOUND / (n + 1),
        adjusted_risk=(n * risk + LOSS_BOUND) / (n + 1),
    )


def _volume_fnrs(pool: _VesselProbs, volumes: NDArray[np.intp], threshold: float) -> FloatArray:
    """Per-volume FNR at ``threshold`` by binary search in each volume's sorted vessel probabilities."""
    out = np.zeros(len(volumes))
    for k, i in enumerate(volumes):
        values = pool.per_volume[i]
        if values.size:
            out[k] = np.searchsorted(values, threshold, side="left") / values.size
    return out


def _pool(probs: Sequence[ArrayLike], labels: Sequence[ArrayLike]) -> _VesselProbs:
    """Extract and sort every volume's vessel probabilities (validating the inputs)."""
    if len(probs) != len(labels):
        raise CalibrationDataError(
            f"got {len(probs)} probability maps but {len(labels)} labels; pass one label per volume"
        )
    per_volume = [np.sort(_vessel_probs(p, y, index=i)) for i, (p, y) in enumerate(zip(probs, labels, strict=True))]
    counts = np.array([v.size for v in per_volume], dtype=np.int64)
    values = np.concatenate(per_volume) if per_volume else np.zeros(0)
    owner = np.repeat(np.arange(len(per_volume), dtype=np.intp), counts)
    order = np.argsort(values, kind="stable")
    return _VesselProbs(values=values[order], owner=owner[order], counts=counts, per_volume=per_volume)


def _vessel_probs(prob: ArrayLike, label: ArrayLike, index: int) -> FloatArray:
    """The probabilities of one volume's vessel voxels, after checking shapes, ranges and binarity."""
    p = np.asarray(prob)  # kept in its own dtype: only the vessel voxels are copied (as float64)
    y = np.asarray(label)
    if p.shape != y.shape:
        raise CalibrationDataError(
            f"volume {index}: probability map has shape {p.shape} but its label has shape {y.shape}; "
            "pass the vessel-class probability map (not logits of every class) aligned with the label"
        )
    if p.dtype.kind not in "fiub" or (p.size and not (np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1)):
        raise CalibrationDataError(
            f"volume {index}: probabilities must be finite and in [0, 1]; apply softmax/sigmoid to logits first"
        )
    if y.dtype != np.bool_:
        if y.size and not np.isin(y, (0, 1)).all():
            raise CalibrationDataError(
                f"volume {index}: labels must be binary (0/1 or bool), got values {np.unique(y)[:5].tolist()}…"
            )
        y = y.astype(bool)
    result: FloatArray = p[y].astype(np.float64)
    return result


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, int | float) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha is a target false-negative rate and must lie strictly between 0 and 1; got {alpha!r}")
