"""Dataset drift: per-volume features of a reference and a current dataset, compared with Evidently.

One row per volume, never per voxel. Each numeric feature is tested with Evidently's two-sample test (K-S for
small numeric samples) and a feature counts as drifted when its p-value is below ``ALPHA / tested features``
(Bonferroni: with ~7 features a plain 0.05 would flag about one in four same-distribution comparisons). A
dataset has drifted when any feature has. Too few volumes make the test meaningless, and the result says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from minivess.errors import DataError, TrackingError, TrainingError
from minivess.fileio import write_json_atomic
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset
from minivess.pipelines.data.nifti import load_nifti
from minivess.pipelines.governance.data_card import resolve_dataset
from minivess.settings import Settings

logger = logging.getLogger(__name__)

ALPHA = 0.05
# The exact two-sample K-S p-value with n and m volumes is at least 2 / C(n+m, n): 0.10 for 3 vs 3, 0.029 for 4 vs 4,
# 0.0079 for 5 vs 5. A feature is tested only when that smallest possible p-value is below the Bonferroni threshold
# (per feature, counting the volumes where it has a value); otherwise no test could tell drift from chance.
FEATURES = (
    "intensity_p1",
    "intensity_p50",
    "intensity_p99",
    "snr",
    "label_vessel_fraction",
    "spacing_x",
    "spacing_y",
    "spacing_z",
    "shape_x",
    "shape_y",
    "shape_z",
)
# With a model: what it predicts on each volume. A model meeting data unlike its training data predicts vessels at
# a different rate and less confidently (higher mean binary entropy, nats).
PREDICTION_FEATURES = ("pred_vessel_fraction", "pred_mean_entropy")
# Checked per volume at prediction time against the training volumes' range (no test can use one volume).
# (SNR is left out: at prediction time its mask would be the prediction, so it would measure the model, not the data.)
RANGE_FEATURES = ("intensity_p1", "intensity_p50", "intensity_p99", "spacing_x", "spacing_y", "spacing_z")
RANGE_MARGIN = 0.1  # a value counts as outside when beyond min/max by more than this fraction of the range


class FeatureDrift(BaseModel):
    name: str
    test: str = Field(description="Evidently's method, 'constant' or 'not tested'")
    p_value: float | None = None
    drifted: bool
    note: str = ""


class DriftResult(BaseModel):
    """Reference vs current: whether the test could mean anything, what drifted, where the report is."""

    reference: str
    current: str
    n_reference: int
    n_current: int
    sufficient: bool
    drifted: bool
    drifted_features: list[str]
    features: list[FeatureDrift]
    threshold: float = Field(description="per-feature p-value threshold (ALPHA / features tested)")
    report_html: str | None = None
    result_json: str
    model_run_id: str | None = Field(None, description="run whose predictions gave the prediction features")


def volume_features(manifest: DatasetManifest) -> list[dict[str, float]]:
    """One row of features per volume: intensity percentiles, SNR, label vessel fraction, spacing and shape.

    SNR = mean intensity inside the mask / standard deviation outside it (the background's noise).
    """
    rows = []
    for record in manifest.volumes:
        image = np.asarray(load_nifti(record.image).dataobj, dtype=np.float32)
        mask = np.asarray(load_nifti(record.mask).dataobj) > 0
        p1, p50, p99 = np.percentile(image, [1, 50, 99])
        rows.append(
            {
                "intensity_p1": float(p1),
                "intensity_p50": float(p50),
                "intensity_p99": float(p99),
                "snr": _snr(image, mask),
                "label_vessel_fraction": record.vessel_fraction,
                **{f"spacing_{axis}": float(v) for axis, v in zip("xyz", record.spacing, strict=True)},
                **{f"shape_{axis}": float(v) for axis, v in zip("xyz", record.shape, strict=True)},
            }
        )
    return rows


def prediction_features(
    settings: Settings, run_ref: str, manifests: list[DatasetManifest]
) -> tuple[str, list[list[dict[str, float]]]]:
    """The run's full id and, per manifest and volume, its predicted vessel fraction and mean predictive entropy.

    The run's model is opened once for all manifests. Volumes of the run's own train split (matched by checksum)
    get NaN: they are left out of the test.

    Raises:
        TrackingError, TrainingError: ``run_ref`` matches no run, or its model cannot be rebuilt.
    """
    from minivess.pipelines.training.evaluation import binary_entropy, open_run, segment_probability

    run = open_run(run_ref, settings)
    trained_on = {v.sha256 for v in run.manifest.volumes if v.id in set(run.splits.get("train") or [])}
    unseen = {"pred_vessel_fraction": math.nan, "pred_mean_entropy": math.nan}
    per_manifest = []
    for manifest in manifests:
        rows = []
        for record in manifest.volumes:
            if record.sha256 in trained_on:  # a model is more confident on what it trained on: not comparable
                rows.append(dict(unseen))
                continue
            probability = segment_probability(
                run.model, run.spec, record.image, run.cfg.inference, run.device, run.temperature
            )
            rows.append(
                {
                    "pred_vessel_fraction": float((probability > 0.5).mean()),
                    "pred_mean_entropy": float(binary_entropy(probability).mean()),
                }
            )
        per_manifest.append(rows)
    return run.run_id, per_manifest


def _snr(image: NDArray[Any], mask: NDArray[Any]) -> float:
    background = image[~mask]
    if not mask.any() or background.size < 2:
        return float("nan")
    noise = float(background.std())
    return float(image[mask].mean()) / noise if noise > 0 else float("inf")


def compare_datasets(settings: Settings, reference: str, current: str, run_ref: str | None = None) -> DriftResult:
    """Compute features for both datasets, test each with Evidently, write the HTML report and a JSON result.

    Args:
        run_ref: A run (id, prefix, ``last`` or registry alias) whose predictions on both datasets add the
            prediction features; None compares the data alone.

    Raises:
        DataError: A dataset is missing or unreadable.
        TrackingError, TrainingError: ``run_ref`` matches no run.
    """
    ref_dir, cur_dir = resolve_dataset(settings, reference), resolve_dataset(settings, current)
    ref_manifest, cur_manifest = scan_dataset(ref_dir), scan_dataset(cur_dir)
    ref_rows, cur_rows = volume_features(ref_manifest), volume_features(cur_manifest)
    run_id = None
    if run_ref is not None:
        run_id, (ref_pred, cur_pred) = prediction_features(settings, run_ref, [ref_manifest, cur_manifest])
        ref_rows = [row | pred for row, pred in zip(ref_rows, ref_pred, strict=True)]
        cur_rows = [row | pred for row, pred in zip(cur_rows, cur_pred, strict=True)]
    key = hashlib.sha256(f"{ref_manifest.version}-{cur_manifest.version}-{run_id}".encode()).hexdigest()[:8]
    out = settings.home_dir / "drift" / f"{ref_dir.name}-vs-{cur_dir.name}-{key}"
    out.mkdir(parents=True, exist_ok=True)
    features, candidates = _constant_features(ref_rows, cur_rows)
    threshold = ALPHA / max(len(candidates), 1)  # Bonferroni over every varying feature (conservative)
    tested = []
    for name in candidates:
        n, m = _finite_count(ref_rows, name), _finite_count(cur_rows, name)
        smallest = smallest_p_value(n, m)
        if smallest < threshold:
            tested.append(name)
            continue
        note = (
            f"too few volumes ({n} and {m} with a value): the smallest possible p-value, {smallest:.2g}, is not "
            f"below the threshold {threshold:.2g}, so no test can tell drift from chance"
        )
        features.append(FeatureDrift(name=name, test="not tested", drifted=False, note=note))
    report_html = None
    if tested:
        p_values, methods, report_html = _evidently(ref_rows, cur_rows, tested, out)
        for name in tested:
            p = p_values.get(name)
            note = "" if p is not None else "Evidently returned no result for it"
            features.append(
                FeatureDrift(name=name, test=methods.get(name, "not tested"), p_value=p,
                             drifted=p is not None and p < threshold, note=note)
            )  # fmt: skip
    sufficient = bool(tested) or not candidates
    features.sort(key=lambda f: (FEATURES + PREDICTION_FEATURES).index(f.name))
    drifted = [f.name for f in features if f.drifted]
    result = DriftResult(
        reference=str(ref_dir), current=str(cur_dir), n_reference=len(ref_rows), n_current=len(cur_rows),
        sufficient=sufficient, drifted=bool(drifted), drifted_features=drifted, features=features,
        threshold=threshold, report_html=report_html, result_json=str(out / "drift.json"), model_run_id=run_id,
    )  # fmt: skip
    write_json_atomic(out / "drift.json", result)
    write_json_atomic(out / "features.json", {"reference": ref_rows, "current": cur_rows})
    return result


def smallest_p_value(n: int, m: int) -> float:
    """The smallest two-sided p-value the exact two-sample K-S test can give with n and m volumes (full separation).

    With n = m = 5 it is 2 / C(10, 5) = 0.0079: above a Bonferroni threshold over 7 or more features.
    """
    return min(1.0, 2.0 / math.comb(n + m, n)) if n and m else 1.0


def _constant_features(
    ref_rows: list[dict[str, float]], cur_rows: list[dict[str, float]]
) -> tuple[list[FeatureDrift], list[str]]:
    """Features constant on both sides are not tested: equal → no drift, different → drift. The rest are tested."""
    if not ref_rows or not cur_rows:
        raise DataError("a dataset has no volumes; drift needs volumes on both sides.")
    settled, tested = [], []
    for name in [name for name in FEATURES + PREDICTION_FEATURES if name in ref_rows[0]]:
        ref = {_rounded(row[name]) for row in ref_rows}
        cur = {_rounded(row[name]) for row in cur_rows}
        empty = [side for side, values in (("reference", ref), ("current", cur)) if values == {"nan"}]
        if empty:  # e.g. SNR of volumes whose masks are empty, predictions of volumes the model trained on
            note = f"no value on any volume of the {' and '.join(empty)} dataset"
            settled.append(FeatureDrift(name=name, test="not tested", drifted=False, note=note))
        elif len(ref) == 1 and len(cur) == 1:
            same = ref == cur
            note = f"constant: {next(iter(ref))}" + ("" if same else f" vs {next(iter(cur))}")
            settled.append(FeatureDrift(name=name, test="constant", drifted=not same, note=note))
        else:
            tested.append(name)
    return settled, tested


def _finite_count(rows: list[dict[str, float]], name: str) -> int:
    return sum(math.isfinite(row[name]) for row in rows)


def _rounded(value: float) -> float | str:
    return "nan" if math.isnan(value) else round(value, 6)


def _evidently(
    ref_rows: list[dict[str, float]], cur_rows: list[dict[str, float]], columns: list[str], out: Path
) -> tuple[dict[str, float], dict[str, str], str]:
    """Evidently's per-column drift p-values and methods for ``columns``, and its HTML report (``out/report.html``).

    Every column is tested with the two-sample K-S test (scipy's exact p-value at these sizes): Evidently's default
    picks a Z or chi-square test for columns with few distinct values, which are anti-conservative at n ≈ 5–10.

    Raises:
        DataError: Evidently refused the data.
    """
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=columns)
    try:
        reference = Dataset.from_pandas(pd.DataFrame(ref_rows)[columns], data_definition=definition)
        current = Dataset.from_pandas(pd.DataFrame(cur_rows)[columns], data_definition=definition)
        snapshot = Report([DataDriftPreset(columns=columns, num_method="ks")]).run(current, reference)
    except ValueError as exc:
        raise DataError(f"the drift test could not run on these features: {exc}") from exc
    html = out / "report.html"
    partial = out / f".report-{os.getpid()}.html"  # two processes on one comparison must not tear the file
    snapshot.save_html(str(partial))
    os.replace(partial, html)
    p_values, methods = {}, {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift") and config.get("column") in columns:
            p_values[config["column"]] = float(metric["value"])
            methods[config["column"]] = str(config.get("method", "?"))
    return p_values, methods, str(html)


def training_data(settings: Settings, model: str = "champion") -> str:
    """The dataset folder a model (registry alias, ``<model>@<version>`` or run reference) was trained on.

    Raises:
        TrackingError, TrainingError: ``model`` matches no version or run.
        DataError: the run recorded no dataset folder.
    """
    from minivess.pipelines.governance.card_sources import resolve_target
    from minivess.pipelines.tracking.mlflow_run import client_for

    client = client_for(settings.tracking_uri)
    target = resolve_target(client, model)
    folder = client.get_run(target.run_id).data.params.get("data.dir")
    if not folder or folder == "None":
        raise DataError(f"run {target.run_id[:8]} ({model}) recorded no dataset folder; name the reference dataset.")
    return str(folder)


def search_drift_notes(settings: Settings, dataset: str | Path, model: str = "champion") -> list[str]:
    """The nightly search's data check: its dataset against the champion's training data, on the data alone.

    Returns the notes for the search report: a drift warning naming the drifted features, "no verdict" with too
    few volumes, "no drift", or why no check ran (no champion yet, an unreadable dataset). Nothing when the
    search trains on the champion's own training data. Never raises for a data problem: the search decides.
    """
    try:
        reference = Path(training_data(settings, model))
    except (TrackingError, TrainingError) as exc:
        return [f"no drift check: no {model} to compare the data with ({exc})"]
    except DataError as exc:
        return [f"no drift check: {exc}"]
    try:
        same = reference.resolve() == resolve_dataset(settings, str(dataset))
    except DataError as exc:
        return [f"no drift check: {exc}"]
    if same:
        return []
    try:
        result = compare_datasets(settings, str(reference), str(dataset))
    except DataError as exc:
        return [f"no drift check against the {model}'s training data {reference}: {exc}"]
    where = f"{result.current} against the {model}'s training data {result.reference}"
    if result.drifted:
        return [
            f"drift warning: {where} ({result.n_current} vs {result.n_reference} volumes): "
            f"{', '.join(result.drifted_features)} drifted (p < {result.threshold:.2g}); the {model}'s scores may "
            f"not compare with this search's; report {result.report_html or result.result_json}"
        ]
    if not result.sufficient:
        why = next((f.note for f in result.features if f.note.startswith("too few")), "too few volumes")
        return [f"drift: no verdict for {where}: {why}"]
    return [f"no drift: {where} ({result.n_current} vs {result.n_reference} volumes)"]


def training_range_warnings(settings: Settings, run_ref: str, image_path: Path, mask_path: Path) -> list[str]:
    """Per-volume drift at prediction time: each feature of one predicted volume outside its training data's range.

    The features are the image's intensity percentiles and spacing, and the predicted vessel fraction (against
    the training labels' fraction: a model far outside it is likely wrong on this volume). One volume cannot be
    tested, so this is a range check: beyond the training volumes' min/max by more than ``RANGE_MARGIN`` of the
    range (or a different value where all training volumes share one). A reference that cannot be read is a
    warning too, never silence; and so is any failure of the check itself: the mask is already written, and an
    advisory check must not turn a finished prediction into an error.
    """
    try:
        folder = Path(training_data(settings, run_ref))
        return _outside_range(_reference_rows(settings, folder), folder, image_path, mask_path)
    except (DataError, TrackingError, TrainingError, OSError) as exc:
        return [f"no drift check: {exc}"]
    except Exception as exc:  # advisory only (see above); the message says what failed
        logger.warning("drift check of %s failed", image_path, exc_info=True)
        return [f"no drift check: {type(exc).__name__}: {exc}"]


def _outside_range(rows: list[dict[str, float]], folder: Path, image_path: Path, mask_path: Path) -> list[str]:
    nifti = load_nifti(image_path)
    image = np.asarray(nifti.dataobj, dtype=np.float32)
    mask = np.asarray(load_nifti(mask_path).dataobj) > 0
    p1, p50, p99 = np.percentile(image, [1, 50, 99])
    spacing = [float(v) for v in nifti.header.get_zooms()[:3]]
    values = {"intensity_p1": float(p1), "intensity_p50": float(p50), "intensity_p99": float(p99),
              **{f"spacing_{axis}": v for axis, v in zip("xyz", spacing, strict=True)},
              "predicted vessel_fraction": float(mask.mean())}  # fmt: skip
    warnings = []
    for name, value in values.items():
        column = name if name in RANGE_FEATURES else "label_vessel_fraction"
        known = [row[column] for row in rows if math.isfinite(row[column])]
        if not known or not math.isfinite(value):
            continue
        low, high = min(known), max(known)
        margin = RANGE_MARGIN * (high - low) if high > low else 1e-3 * max(abs(high), 1e-12)
        if value < low - margin or value > high + margin:
            shown = f"{low:.4g}" if high == low else f"[{low:.4g}, {high:.4g}]"
            what = "training data's" if column == name else "training labels' vessel fraction"
            warnings.append(
                f"{image_path.name}: {name} {value:.4g} is outside the {what} "
                f"{'value' if high == low else 'range'} {shown} ({len(known)} volumes in {folder})"
            )
    return warnings


def _reference_rows(settings: Settings, folder: Path) -> list[dict[str, float]]:
    """The training data's per-volume features, cached under HOME/drift/reference by the folder's file listing."""
    if not folder.is_dir():
        raise DataError(f"the training data folder {folder} is not there any more")
    listing = sorted(
        (str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns) for path in folder.rglob("*.nii*")
    )
    key = hashlib.sha256(json.dumps([str(folder.resolve()), listing]).encode()).hexdigest()[:16]
    cache = settings.home_dir / "drift" / "reference" / f"{key}.json"
    if cache.is_file():
        cached: list[dict[str, float]] = json.loads(cache.read_text())
        return cached
    rows = volume_features(scan_dataset(folder))
    cache.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(cache, rows)
    return rows
