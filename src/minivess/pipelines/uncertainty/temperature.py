"""Temperature scaling of 2-class vessel logits: one scalar T fitted by NLL on a seeded voxel subsample.

Our models output logits of shape (2, X, Y, Z) per volume (channel 0 background, 1 vessel); the vessel
probability is ``softmax(logits / T)[1]``. With two classes that is ``sigmoid(m / T)`` for the margin
``m = logit_vessel - logit_background``, so the fit only needs (margin, label) pairs. Dividing by T > 0 never
changes the argmax, so masks (and Dice, clDice, ...) at threshold 0.5 are unchanged; only confidence moves.
The fit minimises the exact binary cross-entropy (``binary_cross_entropy_with_logits``, no clipping) over
log T with L-BFGS in float64; T is kept within [0.05, 20].
"""

from __future__ import annotations

import logging
import math
from typing import Any, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from torch.nn import functional

from minivess.pipelines.uncertainty.calibration import ArrayInput, binary_array

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_VOXELS = 200_000
TEMPERATURE_BOUNDS = (0.05, 20.0)

LogitsT = TypeVar("LogitsT", NDArray[Any], torch.Tensor)


class TemperatureFit(BaseModel):
    """A fitted temperature and the NLL it achieves on the fitting sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(gt=0, description="T; probabilities are softmax(logits / T). T > 1 softens.")
    nll_before: float = Field(description="Mean binary cross-entropy at T = 1 on the sample (nats).")
    nll_after: float = Field(description="Mean binary cross-entropy at the fitted T on the sample (nats).")
    n_voxels: int = Field(ge=1, description="Number of voxels the fit used.")


def _check_temperature(temperature: float) -> float:
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a finite number > 0 (1.0 = unchanged), got {temperature}.")
    return t


def _logits_tensor(logits: ArrayInput) -> torch.Tensor:
    """(2, ...) logits as a float64 CPU tensor, validated."""
    if isinstance(logits, np.ndarray):
        x = torch.from_numpy(np.asarray(logits))
    elif isinstance(logits, torch.Tensor):
        x = logits.detach().cpu()
    else:
        raise ValueError(f"logits must be a numpy array or a torch tensor, got {type(logits).__name__}.")
    if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"logits must hold real numbers, got dtype {x.dtype}.")
    if x.ndim < 2 or x.shape[0] != 2:
        raise ValueError(
            f"logits must be 2-class (2, X, Y, Z) (channel 0 background, 1 vessel), got shape {tuple(x.shape)}; "
            "pass one volume without its batch axis."
        )
    x = x.double()
    if not bool(torch.isfinite(x).all()):
        raise ValueError("logits contain NaN or infinite values; fix the model output first.")
    return x


def apply_temperature(logits: LogitsT, temperature: float) -> LogitsT:
    """Divide logits by T (any shape; same type as the input, numpy or torch).

    Raises:
        ValueError: If ``temperature`` is not a finite number > 0.
    """
    t = _check_temperature(temperature)
    return logits if t == 1.0 else logits / t


def vessel_probability(logits: ArrayInput, temperature: float = 1.0) -> NDArray[np.float64]:
    """Vessel probability ``softmax(logits / T, axis=0)[1]`` of 2-class logits, in float64.

    Args:
        logits: (2, X, Y, Z) logits, numpy or torch (channel 1 = vessel).
        temperature: T > 0. Defaults to 1.0 (the model's own softmax).

    Returns:
        Probabilities (X, Y, Z) in [0, 1], float64 (computed in float64, so fewer voxels saturate at 1.0
        than in a float32 softmax).

    Raises:
        ValueError: On a non-2-class shape, non-finite logits or a bad temperature.
    """
    x = apply_temperature(_logits_tensor(logits), temperature)
    return torch.softmax(x, dim=0)[1].numpy()


def sample_voxels(
    logits: ArrayInput,
    label: ArrayInput,
    region: ArrayInput | None = None,
    n: int = DEFAULT_SAMPLE_VOXELS,
    rng: np.random.Generator | int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Draw up to ``n`` voxels of ``region`` without replacement and return their (margin, label) pairs.

    Args:
        logits: (2, X, Y, Z) logits of one volume.
        label: Binary reference (X, Y, Z).
        region: Optional mask (X, Y, Z) of eligible voxels (e.g. the foreground ROI); None allows all.
        n: Sample size; every eligible voxel is returned (in array order) when there are at most ``n``.
        rng: A numpy Generator, or a seed for one. Defaults to seed 0 (reproducible).

    Returns:
        ``(margins, labels)``: vessel-minus-background logit margins (float64) and boolean labels, 1-D.

    Raises:
        ValueError: On mismatched shapes, non-binary label/region, non-finite logits or ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1 voxel, got {n}.")
    x = _logits_tensor(logits)
    spatial = tuple(x.shape[1:])
    shapes = {"label": tuple(label.shape)} | ({} if region is None else {"region": tuple(region.shape)})
    if any(shape != spatial for shape in shapes.values()):
        raise ValueError(f"label/region must match the logits' spatial shape {spatial}, got {shapes}.")
    margin = (x[1] - x[0]).numpy()
    y = binary_array(label, "label")
    keep = np.ones(spatial, dtype=np.bool_) if region is None else binary_array(region, "region")
    idx = np.flatnonzero(keep)
    if idx.size > n:
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        idx = np.sort(generator.choice(idx, size=n, replace=False))
    return margin.ravel()[idx], y.ravel()[idx]


def _mean_nll(margins: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    return float(functional.binary_cross_entropy_with_logits(margins / temperature, labels))


def fit_temperature(margins: ArrayInput, labels: ArrayInput, *, max_iter: int = 100) -> TemperatureFit:
    """Fit one temperature by minimising the mean NLL of ``sigmoid(margin / T)`` against the labels.

    Args:
        margins: 1-D vessel-minus-background logit margins (from :func:`sample_voxels`).
        labels: 1-D binary labels, same length.
        max_iter: L-BFGS iterations. Defaults to 100 (a 1-parameter fit converges in a handful).

    Returns:
        The fit. T is clamped to [0.05, 20] (a warning is logged when a bound is hit, e.g. when the sample
        has one class only); if the fit would not lower the NLL, T = 1.

    Raises:
        ValueError: On empty, non-1-D, mismatched, non-finite or non-binary inputs.
    """
    m_np = np.asarray(margins.detach().cpu().numpy() if isinstance(margins, torch.Tensor) else margins)
    y_np = binary_array(labels, "labels")
    if m_np.ndim != 1 or y_np.ndim != 1 or m_np.shape != y_np.shape or m_np.size == 0:
        raise ValueError(
            f"margins and labels must be non-empty 1-D arrays of the same length, got shapes {m_np.shape} and "
            f"{y_np.shape}; use sample_voxels to draw them."
        )
    if not (np.issubdtype(m_np.dtype, np.number) and bool(np.isfinite(m_np).all())):
        raise ValueError("margins must be finite numbers (logit differences).")
    m = torch.from_numpy(m_np.astype(np.float64))
    y = torch.from_numpy(y_np.astype(np.float64))
    lo, hi = math.log(TEMPERATURE_BOUNDS[0]), math.log(TEMPERATURE_BOUNDS[1])
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [log_t], lr=1.0, max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-12, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = functional.binary_cross_entropy_with_logits(m * torch.exp(-log_t.clamp(lo, hi)), y)
        (log_t.grad,) = torch.autograd.grad(loss, log_t)
        return loss.detach()

    optimiser.step(closure)  # type: ignore[no-untyped-call]  # LBFGS.step's decorator drops its annotations
    temperature = math.exp(min(max(float(log_t.detach()), lo), hi))
    if not lo < float(log_t.detach()) < hi:
        logger.warning("temperature fit hit its bound: T = %.3g (one class only, or separable data?)", temperature)
    nll_before, nll_after = _mean_nll(m, y, 1.0), _mean_nll(m, y, temperature)
    if not nll_after <= nll_before:
        temperature, nll_after = 1.0, nll_before
    logger.debug(
        "temperature fit: T = %.4f, NLL %.5f -> %.5f on %d voxels", temperature, nll_before, nll_after, m.numel()
    )
    return TemperatureFit(temperature=temperature, nll_before=nll_before, nll_after=nll_after, n_voxels=int(m.numel()))
