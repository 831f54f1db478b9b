"""Dataset drift: per-volume features of a reference and a current dataset, compared with Evidently.

One row per volume, never per voxel. Each numeric feature is tested with Evidently's two-sample test (K-S for
small numeric samples) and a feature counts as drifted when its p-value is below ``ALPHA / tested features``
(Bonferroni: with ~7 features a plain 0.05 would flag about one in four same-distribution comparisons). A
dataset has drifted when any feature has. Too few volumes make the test meaningless, and the result says so.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from minivess.errors import DataError
from minivess.fileio import write_json_atomic
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset
from minivess.pipelines.data.nifti import load_nifti
from minivess.pipelines.governance.data_card import resolve_dataset
from minivess.settings import Settings

ALPHA = 0.05
# The exact two-sample K-S p-value with n volumes per side is at least 2 / C(2n, n): 0.10 for n = 3, 0.029 for
# n = 4, 0.0079 for n = 5. Below 5 per side a Bonferroni-corrected test over our features can never fire.
MIN_VOLUMES = 5
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


def _snr(image: NDArray[Any], mask: NDArray[Any]) -> float:
    background = image[~mask]
    if not mask.any() or background.size < 2:
        return float("nan")
    noise = float(background.std())
    return float(image[mask].mean()) / noise if noise > 0 else float("inf")


def compare_datasets(settings: Settings, reference: str, current: str) -> DriftResult:
    """Compute features for both datasets, test each with Evidently, write the HTML report and a JSON result.

    Raises:
        DataError: A dataset is missing or unreadable.
    """
    ref_dir, cur_dir = resolve_dataset(settings, reference), resolve_dataset(settings, current)
    ref_manifest, cur_manifest = scan_dataset(ref_dir), scan_dataset(cur_dir)
    ref_rows, cur_rows = volume_features(ref_manifest), volume_features(cur_manifest)
    key = hashlib.sha256(f"{ref_manifest.version}-{cur_manifest.version}".encode()).hexdigest()[:8]
    out = settings.home_dir / "drift" / f"{ref_dir.name}-vs-{cur_dir.name}-{key}"
    out.mkdir(parents=True, exist_ok=True)
    sufficient = min(len(ref_rows), len(cur_rows)) >= MIN_VOLUMES
    features, tested = _constant_features(ref_rows, cur_rows)
    threshold = ALPHA / max(len(tested), 1)
    report_html = None
    if tested and sufficient:
        p_values, methods, report_html = _evidently(ref_rows, cur_rows, tested, out / "report.html")
        for name in tested:
            p = p_values.get(name)
            features.append(
                FeatureDrift(name=name, test=methods.get(name, "?"), p_value=p, drifted=p is not None and p < threshold)
            )
    elif tested:
        note = f"fewer than {MIN_VOLUMES} volumes on a side: no test can tell drift from chance"
        features += [FeatureDrift(name=name, test="not tested", drifted=False, note=note) for name in tested]
    features.sort(key=lambda f: FEATURES.index(f.name))
    drifted = [f.name for f in features if f.drifted]
    result = DriftResult(
        reference=str(ref_dir), current=str(cur_dir), n_reference=len(ref_rows), n_current=len(cur_rows),
        sufficient=sufficient, drifted=bool(drifted), drifted_features=drifted, features=features,
        threshold=threshold, report_html=report_html, result_json=str(out / "drift.json"),
    )  # fmt: skip
    write_json_atomic(out / "drift.json", result)
    write_json_atomic(out / "features.json", {"reference": ref_rows, "current": cur_rows})
    return result


def _constant_features(
    ref_rows: list[dict[str, float]], cur_rows: list[dict[str, float]]
) -> tuple[list[FeatureDrift], list[str]]:
    """Features constant on both sides are not tested: equal → no drift, different → drift. The rest are tested."""
    if not ref_rows or not cur_rows:
        raise DataError("a dataset has no volumes; drift needs volumes on both sides.")
    settled, tested = [], []
    for name in FEATURES:
        ref = {_rounded(row[name]) for row in ref_rows}
        cur = {_rounded(row[name]) for row in cur_rows}
        if len(ref) == 1 and len(cur) == 1:
            same = ref == cur
            note = f"constant: {next(iter(ref))}" + ("" if same else f" vs {next(iter(cur))}")
            settled.append(FeatureDrift(name=name, test="constant", drifted=not same, note=note))
        else:
            tested.append(name)
    return settled, tested


def _rounded(value: float) -> float | str:
    return "nan" if math.isnan(value) else round(value, 6)


def _evidently(
    ref_rows: list[dict[str, float]], cur_rows: list[dict[str, float]], columns: list[str], html: Path
) -> tuple[dict[str, float], dict[str, str], str]:
    """Evidently's per-column drift p-values and methods for ``columns``, and its HTML report."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=columns)
    reference = Dataset.from_pandas(pd.DataFrame(ref_rows)[columns], data_definition=definition)
    current = Dataset.from_pandas(pd.DataFrame(cur_rows)[columns], data_definition=definition)
    snapshot = Report([DataDriftPreset(columns=columns)]).run(current, reference)
    snapshot.save_html(str(html))
    p_values, methods = {}, {}
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift") and config.get("column") in columns:
            p_values[config["column"]] = float(metric["value"])
            methods[config["column"]] = str(config.get("method", "?"))
    return p_values, methods, str(html)
