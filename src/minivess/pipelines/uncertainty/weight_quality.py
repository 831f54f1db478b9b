"""Weight-quality gate: WeightWatcher 0.7.7 power-law alphas per layer, extended to 3-D convolutions."""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import logging
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

logger = logging.getLogger(__name__)

# WeightWatcher 0.7.7 defaults (weightwatcher.constants), repeated so the module imports without it.
DEFAULT_MIN_EVALS: Final = 8
WW_MAX_EVALS: Final = 15000
WW_MAX_N: Final = 50000

WEIGHT_LAYER_TYPES: Final = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose3d)

Method = Literal["native", "conv3d-as-2d", "conv1d-as-2d"]


class LayerQuality(BaseModel):
    """One weight layer of the model and what WeightWatcher made of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Module name in the original model (``model.get_submodule(name)``).")
    module_type: str
    weight_shape: tuple[int, ...]
    method: Method = Field(
        description="'native': handed to WeightWatcher as it is; 'conv3d-as-2d' / 'conv1d-as-2d': kernel "
        "offsets handed over as the (out, in) matrices WeightWatcher slices a Conv2d into."
    )
    num_evals: int = Field(description="Eigenvalues in the pooled spectrum: min(out, in) × kernel offsets.")
    analysed: bool
    alpha: float | None = None
    alpha_weighted: float | None = None
    ww_warning: str | None = Field(default=None, description="WeightWatcher's label, e.g. 'under-trained'.")
    reason: str | None = Field(default=None, description="Why the layer was not analysed.")


class WeightReport(BaseModel):
    """WeightWatcher's view of a model's weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha_weighted: float | None = Field(description="WeightWatcher summary alpha_weighted over analysed layers.")
    mean_alpha: float | None
    layers: list[LayerQuality]
    layers_analysed: int
    weight_layers_total: int = Field(description="Linear / Conv1d / Conv2d / Conv3d / ConvTranspose3d modules.")
    native_layers_analysed: int | None = Field(
        description="Layers WeightWatcher analyses on the unmodified model (0 when it crashes; None: not measured)."
    )
    native_error: str | None = Field(default=None, description="WeightWatcher's exception on the unmodified model.")
    min_evals: int
    seconds: float = Field(description="Wall time of the analysis, native measurement included.")

    @property
    def coverage(self) -> float:
        """Share of weight layers analysed."""
        return self.layers_analysed / self.weight_layers_total if self.weight_layers_total else 0.0


class GateRule(BaseModel):
    """Pass/fail rule on a WeightReport.

    A layer is *well-trained* when ``alpha_min <= alpha <= alpha_max`` (WeightWatcher's rule of thumb 2–6:
    above 6 under-trained or random, below 2 over-fitted). The gate passes when at least ``min_coverage`` of the
    weight layers were analysed, at most ``max_fraction_outside`` of the analysed layers are outside the
    range, and (if set) the summary alpha_weighted is at most ``max_alpha_weighted``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha_min: float = Field(default=2.0, gt=0, description="Lowest alpha of a well-trained layer.")
    alpha_max: float = Field(default=6.0, gt=0, description="Highest alpha of a well-trained layer.")
    max_fraction_outside: float = Field(
        default=0.2, ge=0, le=1, description="Most analysed layers allowed outside [alpha_min, alpha_max]."
    )
    min_coverage: float = Field(default=0.5, ge=0, le=1, description="Least share of weight layers analysed.")
    max_alpha_weighted: float | None = Field(
        default=None, description="Upper bound on the summary alpha_weighted; None disables (it scales with size)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> GateRule:
        if self.alpha_min > self.alpha_max:
            raise ValueError(f"alpha_min ({self.alpha_min}) must not exceed alpha_max ({self.alpha_max})")
        return self


class GateResult(BaseModel):
    """Outcome of ``evaluate_gate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passed: bool
    reasons: list[str] = Field(description="One sentence per failed check; empty when passed.")
    fraction_outside: float | None = Field(description="Share of analysed layers outside the alpha range.")
    layers_outside: list[str]
    coverage: float


@dataclass(frozen=True)
class _Entry:
    """A weight layer and the matrix form handed to WeightWatcher."""

    name: str
    module: nn.Module
    method: Method
    surrogate: nn.Module
    num_evals: int
    largest_dim: int


def analyse_weights(
    model: nn.Module, *, min_evals: int = DEFAULT_MIN_EVALS, measure_native: bool = True
) -> WeightReport:
    """Power-law alphas of every weight layer, Conv3d and ConvTranspose3d included.

    WeightWatcher 0.7.7 ignores 3-D convolutions and raises ``AttributeError`` (in
    ``PyTorchLayer.get_weights_and_biases``) on any module whose ``weight`` is None, e.g. MONAI's affine-less
    ``InstanceNorm3d`` in SegResNet and SwinUNETR. So the analysis always runs on a surrogate ``nn.Sequential``:
    Linear and Conv2d layers are copied as they are; a 3-D kernel (out, in, kx, ky, kz) becomes a Conv2d
    weight (max(out,in), min(out,in), kx·ky, kz), which WeightWatcher slices into kx·ky·kz matrices and pools
    into one spectrum as it does for Conv2d (transposing keeps the spectrum and avoids its N/M swap per slice).
    Layers with fewer than ``min_evals`` eigenvalues are reported as not analysed, never given an alpha.

    Args:
        model: Any torch module; it is not modified.
        min_evals: Fewest eigenvalues for a power-law fit (WeightWatcher's default 8).
        measure_native: Also run WeightWatcher on (a copy of) the unmodified model to count native coverage.

    Returns:
        Per-layer rows and the summary.
    """
    started = time.perf_counter()
    entries = list(_weight_layers(model))
    native, native_error = _native_coverage(model, min_evals) if measure_native else (None, None)
    surrogate = nn.Sequential(*(entry.surrogate for entry in entries))
    details = _run_weightwatcher(surrogate, min_evals)[0] if entries else {}
    rows = [_row(entry, details.get(str(index)), min_evals) for index, entry in enumerate(entries)]
    analysed = [row for row in rows if row.analysed]
    return WeightReport(
        alpha_weighted=_mean([row.alpha_weighted for row in analysed]),
        mean_alpha=_mean([row.alpha for row in analysed]),
        layers=rows,
        layers_analysed=len(analysed),
        weight_layers_total=len(entries),
        native_layers_analysed=native,
        native_error=native_error,
        min_evals=min_evals,
        seconds=time.perf_counter() - started,
    )


def evaluate_gate(report: WeightReport, rule: GateRule | None = None) -> GateResult:
    """Apply a GateRule (defaults if None) to a WeightReport; see GateRule for the rule."""
    rule = rule or GateRule()
    reasons: list[str] = []
    analysed = [row for row in report.layers if row.analysed and row.alpha is not None]
    if report.coverage < rule.min_coverage or not analysed:
        reasons.append(
            f"only {report.layers_analysed} of {report.weight_layers_total} weight layers were analysed "
            f"({report.coverage:.0%} < {rule.min_coverage:.0%}); lower min_evals or min_coverage to gate this model"
        )
    outside = [row.name for row in analysed if not rule.alpha_min <= (row.alpha or 0.0) <= rule.alpha_max]
    fraction = len(outside) / len(analysed) if analysed else None
    if fraction is not None and fraction > rule.max_fraction_outside:
        reasons.append(
            f"{len(outside)} of {len(analysed)} analysed layers ({fraction:.0%}) have alpha outside "
            f"[{rule.alpha_min}, {rule.alpha_max}] (allowed {rule.max_fraction_outside:.0%}), e.g. "
            f"{', '.join(outside[:3])}; alpha > {rule.alpha_max} suggests under-training, "
            f"< {rule.alpha_min} over-fitting"
        )
    limit, summary = rule.max_alpha_weighted, report.alpha_weighted
    if limit is not None and summary is not None and summary > limit:
        reasons.append(f"alpha_weighted {report.alpha_weighted:.3g} exceeds {rule.max_alpha_weighted:.3g}")
    return GateResult(
        passed=not reasons, reasons=reasons, fraction_outside=fraction, layers_outside=outside, coverage=report.coverage
    )


def _weight_layers(model: nn.Module) -> Iterator[_Entry]:
    """Every weight layer with its surrogate, in module order."""
    for name, module in model.named_modules():
        if not isinstance(module, WEIGHT_LAYER_TYPES):
            continue
        weight = _weight(module).float().cpu()
        a, b, *kernel = (int(dim) for dim in weight.shape)
        if isinstance(module, nn.Linear | nn.Conv2d):
            surrogate: nn.Module = copy.deepcopy(module).float().cpu()
            method: Method = "native"
        else:
            # (out, in, *kernel) for Conv, (in, out, *kernel) for ConvTranspose: the same (a, b) matrix per offset.
            kernel = kernel + [1] * (3 - len(kernel))
            if a < b:
                weight, (a, b) = weight.transpose(0, 1), (b, a)
            surrogate = nn.Conv2d(b, a, (kernel[0] * kernel[1], kernel[2]), bias=False)
            with torch.no_grad():
                surrogate.weight.copy_(weight.reshape(a, b, kernel[0] * kernel[1], kernel[2]))
            method = "conv1d-as-2d" if isinstance(module, nn.Conv1d) else "conv3d-as-2d"
        yield _Entry(name, module, method, surrogate, min(a, b) * math.prod(kernel), max(a, b))


def _weight(module: nn.Module) -> torch.Tensor:
    """The detached weight tensor of a weight layer."""
    weight = module.weight
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{type(module).__name__} has no weight tensor")
    return weight.detach()


def _row(entry: _Entry, detail: dict[str, Any] | None, min_evals: int) -> LayerQuality:
    """One report row from WeightWatcher's details row (None when it skipped the layer)."""
    common: dict[str, Any] = {
        "name": entry.name,
        "module_type": type(entry.module).__name__,
        "weight_shape": tuple(int(dim) for dim in _weight(entry.module).shape),
        "method": entry.method,
        "num_evals": entry.num_evals,
    }
    alpha = _finite(detail.get("alpha")) if detail else None
    if detail is not None and alpha is not None and detail.get("status") == "success":
        return LayerQuality(
            **common,
            analysed=True,
            alpha=alpha,
            alpha_weighted=_finite(detail.get("alpha_weighted")),
            ww_warning=str(detail.get("warning") or "") or None,
        )
    return LayerQuality(**common, analysed=False, reason=_skip_reason(entry, detail, min_evals))


def _skip_reason(entry: _Entry, detail: dict[str, Any] | None, min_evals: int) -> str:
    if detail is not None:
        return f"power-law fit failed (status {detail.get('status')!r}, alpha {detail.get('alpha')!r})"
    if entry.num_evals < min_evals:
        return f"too small for a power-law fit: {entry.num_evals} eigenvalues < min_evals={min_evals}"
    if entry.num_evals > WW_MAX_EVALS:
        return f"too large: {entry.num_evals} eigenvalues > WeightWatcher's max_evals={WW_MAX_EVALS}"
    if entry.largest_dim > WW_MAX_N:
        return f"too large: dimension {entry.largest_dim} > WeightWatcher's max_N={WW_MAX_N}"
    return "skipped by WeightWatcher"


def _native_coverage(model: nn.Module, min_evals: int) -> tuple[int, str | None]:
    """Rows WeightWatcher returns for the unmodified model (a deep copy: it sets ``longname`` on modules)."""
    try:
        return len(_run_weightwatcher(copy.deepcopy(model), min_evals)[1]), None
    except Exception as exc:  # a measurement of the third-party library: its crash *is* the result
        logger.info("WeightWatcher failed on the unmodified model: %s: %s", type(exc).__name__, exc)
        return 0, f"{type(exc).__name__}: {exc}"


def _run_weightwatcher(model: nn.Module, min_evals: int) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """WeightWatcher's details rows keyed by module name, plus the names in order; quiet and plot-free."""
    with _quiet(), _single_threaded_blas():
        weightwatcher = _import_weightwatcher()
        watcher = weightwatcher.WeightWatcher(model=model)
        details = watcher.analyze(
            min_evals=min_evals, plot=False, randomize=False, mp_fit=False, vectors=False, detX=False
        )
    records: list[dict[str, Any]] = details.to_dict("records") if len(details) else []
    names = [str(record.get("longname", record.get("name"))) for record in records]
    return dict(zip(names, records, strict=True)), names


def _import_weightwatcher() -> Any:
    """Import WeightWatcher without its ``logging.basicConfig(level=INFO)`` taking over the root logger.

    basicConfig does nothing when the root logger already has a handler, so one is held during the import.
    """
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        return importlib.import_module("weightwatcher")
    finally:
        root.removeHandler(guard)


def _single_threaded_blas() -> contextlib.AbstractContextManager[Any]:
    """One BLAS thread while WeightWatcher runs its hundreds of small SVDs.

    Measured on a busy 2-core machine: SwinUNETR (feature_size 12) took 13-20 s with 2 OpenBLAS threads and
    2.2-3 s with one. threadpoolctl comes with scikit-learn (a MAPIE dependency); without it nothing changes.
    """
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return contextlib.nullcontext()
    limits: contextlib.AbstractContextManager[Any] = threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    return limits


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence WeightWatcher's logger (SVD-backend warnings at import), its ``print`` calls and its pandas
    deprecation warnings (one per layer)."""
    ww_logger = logging.getLogger("weightwatcher")
    # WeightWatcher sets WARNING on its logger when imported; restore that rather than NOTSET afterwards.
    level = ww_logger.level or logging.WARNING
    ww_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="weightwatcher")
            yield
    finally:
        ww_logger.setLevel(level)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None
