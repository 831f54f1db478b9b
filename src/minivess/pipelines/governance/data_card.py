"""Data cards (Pushkarna et al. 2022) for a dataset folder: composition from its manifest, provenance, versions.

The dataset folder is only read; the card goes to ``HOME/cards/data-<folder>-<manifest version>/``.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, Field

from minivess.errors import DataError
from minivess.fileio import write_json_atomic, write_text_atomic
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset
from minivess.pipelines.governance import card_render as md
from minivess.pipelines.governance.card_sources import recorded_versions
from minivess.pipelines.tracking.naming import LINEAGE_FILE
from minivess.settings import Settings

logger = logging.getLogger(__name__)

DATA_CARD_MD, DATA_CARD_HTML, DATA_CARD_JSON = "data_card.md", "data_card.html", "data_card.json"
INTENDED: Final = (
    "Training and evaluating research models for 3D microvessel segmentation in two-photon microscopy. "
    "Not for clinical use, and not a benchmark of clinical performance."
)
LIMITS: Final = (
    "Few volumes give wide uncertainty on any statistic; masks of real data carry their annotator's bias; "
    "synthetic volumes model vessels, noise and depth attenuation but not every real artefact (motion, "
    "pathology, staining)."
)


class DataCard(BaseModel):
    """Key facts of a data card (all of them are in the Markdown) and where its files are."""

    dataset: str
    path: Path
    manifest_version: str
    volumes: int
    shapes: dict[str, int] = Field(description="'X×Y×Z' → number of volumes")
    spacing_min_um: float
    spacing_max_um: float
    vessel_fraction_mean: float
    vessel_fraction_min: float
    vessel_fraction_max: float
    synthetic: bool
    reviewed: bool
    dvc_versions: list[str]
    missing: list[str]
    markdown: Path
    html: Path
    json_path: Path


def resolve_dataset(settings: Settings, ref: str) -> Path:
    """A dataset folder from a path or a name under the data dir (or ``HOME/datasets``).

    Raises:
        DataError: no such folder.
    """
    candidates = [Path(ref).expanduser(), settings.resolved_data_dir / ref, settings.home_dir / "datasets" / ref]
    for path in candidates:
        if path.is_dir():
            return path.resolve()
    raise DataError(
        f"no dataset '{ref}': not a folder, nor a name under {settings.resolved_data_dir} or "
        f"{settings.home_dir / 'datasets'}; give a dataset folder (raw/ + seg/)."
    )


def data_card(settings: Settings, ref: str, out: Path | None = None) -> DataCard:
    """Scan the dataset, write its data card (Markdown, HTML, JSON) and return the key facts.

    Raises:
        DataError: ``ref`` is not a dataset, or the dataset is invalid (scan_dataset's messages).
    """
    root = resolve_dataset(settings, ref)
    manifest = scan_dataset(root)
    folder = out or settings.home_dir / "cards" / f"data-{root.name}-{manifest.version}"
    generator = _read_json(root / "dataset.json")
    lineage = _read_json(root / LINEAGE_FILE)
    noise = _read_json(root / "label_noise_ledger.json") if generator else None
    versions = _versions(settings, root, manifest)
    missing: list[str] = []
    text = _render(root, manifest, generator, lineage, noise, versions, missing)
    write_text_atomic(folder / DATA_CARD_MD, text)
    write_text_atomic(folder / DATA_CARD_HTML, md.to_html(text, f"Data card: {root.name}"))
    fractions = [v.vessel_fraction for v in manifest.volumes]
    spacing = [s for v in manifest.volumes for s in v.spacing]
    card = DataCard(
        dataset=root.name,
        path=root,
        manifest_version=manifest.version,
        volumes=len(manifest.volumes),
        shapes=dict(Counter("×".join(map(str, v.shape)) for v in manifest.volumes)),
        spacing_min_um=min(spacing),
        spacing_max_um=max(spacing),
        vessel_fraction_mean=statistics.fmean(fractions),
        vessel_fraction_min=min(fractions),
        vessel_fraction_max=max(fractions),
        synthetic=generator is not None,
        reviewed=lineage is not None,
        dvc_versions=[] if versions is None else [v.version for v in versions],
        missing=missing,
        markdown=folder / DATA_CARD_MD,
        html=folder / DATA_CARD_HTML,
        json_path=folder / DATA_CARD_JSON,
    )
    write_json_atomic(folder / DATA_CARD_JSON, card.model_dump(mode="json"))
    return card


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _versions(settings: Settings, root: Path, manifest: DatasetManifest) -> list[Any] | None:
    recorded = recorded_versions(settings)
    if recorded is None:
        return None
    return [v for v in recorded if v.manifest_version == manifest.version or Path(v.path).resolve() == root]


def _render(
    root: Path,
    manifest: DatasetManifest,
    generator: dict[str, Any] | None,
    lineage: dict[str, Any] | None,
    noise: dict[str, Any] | None,
    versions: list[Any] | None,
    missing: list[str],
) -> str:
    t, c = md.text, md.code
    vols = manifest.volumes
    kind = "synthetic (minivess generator)" if generator else "real or imported volumes"
    parts = [
        f"# Data card: {t(root.name)}",
        "## Summary\n\n"
        f"{len(vols)} 3D two-photon microscopy volume(s) with binary vessel masks, {t(kind)}; manifest version "
        f"{c(manifest.version)}; folder {c(root)}.",
        "## Authorship and provenance\n\n" + _provenance(generator, lineage),
        "## Dataset composition\n\n" + _composition(manifest),
        "## Collection and synthesis process\n\n" + _collection(generator),
        "## Annotation and labeling\n\n" + _annotation(lineage, noise, generator, missing),
        "## Versions\n\n" + _versions_text(versions, missing),
        "## Intended uses\n\n" + INTENDED,
        "## Known limitations\n\n" + LIMITS + (f" Only {len(vols)} volume(s) here." if len(vols) < 20 else ""),
    ]
    return "\n\n".join(parts) + "\n"


def _composition(manifest: DatasetManifest) -> str:
    c, n = md.code, md.number
    vols = manifest.volumes
    fractions = [v.vessel_fraction for v in vols]
    shapes = Counter("×".join(map(str, v.shape)) for v in vols)
    rows = [["volumes", n(len(vols))], ["shapes", ", ".join(f"{c(s)} ×{k}" for s, k in shapes.items())]]
    for axis, name in enumerate("XYZ"):
        low, high = min(v.spacing[axis] for v in vols), max(v.spacing[axis] for v in vols)
        rows.append([f"spacing {name} (µm)", f"{n(low)}–{n(high)}"])
    rows += [
        ["vessel fraction mean", n(statistics.fmean(fractions))],
        ["vessel fraction median", n(statistics.median(fractions))],
        ["vessel fraction min–max", f"{n(min(fractions))}–{n(max(fractions))}"],
        ["with skeletons", n(sum(1 for v in vols if v.skeleton))],
    ]
    per_volume = [
        [c(v.id), c("×".join(map(str, v.shape))), md.text(", ".join(n(s) for s in v.spacing)), n(v.vessel_fraction)]
        for v in vols
    ]
    return (
        md.table(["statistic", "value"], rows)
        + "\n\n"
        + md.table(["volume", "shape", "spacing (µm)", "vessel fraction"], per_volume)
    )


def _provenance(generator: dict[str, Any] | None, lineage: dict[str, Any] | None) -> str:
    c = md.code
    if lineage:
        return (
            f"A reviewed version of {c(lineage.get('parent_dir'))} (version {c(lineage.get('parent_version'))}), "
            f"built {md.text(lineage.get('created_at'))} from Label Studio project "
            f"{c(lineage.get('label_studio_project'))}."
        )
    if generator:
        return f"Generated by minivess's synthetic generator {c(generator.get('generator_version'))}; no human data."
    return "Provided by the user (e.g. the public MinIVess dataset); authorship is not recorded in the folder."


def _collection(generator: dict[str, Any] | None) -> str:
    c = md.code
    if not generator:
        return "Acquired with two-photon microscopy (not synthesised here); acquisition details are not recorded."
    preset = generator.get("preset")
    return (
        f"Synthesised: generator {c(generator.get('generator_version'))}, dataset seed {c(generator.get('seed'))}, "
        f"preset {c(preset) if preset else 'not recorded'}, spacing {c(generator.get('spacing_um'))} µm; "
        "the full generator config is in the folder's dataset.json."
    )


def _annotation(
    lineage: dict[str, Any] | None, noise: dict[str, Any] | None, generator: dict[str, Any] | None, missing: list[str]
) -> str:
    lines = []
    if lineage:
        ledger = lineage.get("ledger", [])
        annotators = sorted({str(e.get("annotator")) for e in ledger})
        changed = sum(int(e.get("voxels_added", 0)) + int(e.get("voxels_removed", 0)) for e in ledger)
        lines.append(
            f"- reviews applied: {len(lineage.get('review_ids', []))} annotation(s), {len(ledger)} slice edit(s), "
            f"{changed} voxel(s) changed, by {', '.join(md.text(a) for a in annotators) or 'nobody recorded'}"
        )
    if noise:
        vols = noise.get("volumes", {})
        corrupted = [k for k, v in vols.items() if v.get("corrupted")]
        lines.append(
            f"- label noise injected on purpose in {len(corrupted)} of {len(vols)} volume(s): the masks in seg/ are "
            "corrupted, the clean ones are in seg_clean/, and label_noise_ledger.json records every changed voxel"
        )
    elif generator:
        lines.append("- masks are the generator's ground truth (exact by construction)")
    if not lines:
        missing.append("annotation record")
        lines.append("- masks provided with the data; no review lineage or annotation protocol recorded")
    return "\n".join(lines)


def _versions_text(versions: list[Any] | None, missing: list[str]) -> str:
    if versions is None:
        missing.append("dataset versions")
        return md.missing("no dataset-version registry", "DVC versions are not available in this installation.")
    if not versions:
        missing.append("dataset version record")
        return md.missing("no DVC version recorded", "record one with `minivess data add FOLDER`.")
    rows = [[md.code(v.version), md.text(v.source), md.code(v.parent_version or "—"), md.number(v.files),
             md.text(v.created_at)] for v in versions]  # fmt: skip
    return md.table(["version", "source", "parent", "files", "created (UTC)"], rows)
