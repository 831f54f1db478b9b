"""Pandera schema of the dataset manifest: one row per volume, checked whenever a manifest is built or loaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from minivess.errors import DataError
from minivess.pipelines.frames import check_frame, finite_check

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

    from minivess.pipelines.data.manifest import DatasetManifest
    from minivess.pipelines.data.splits import Splits

SPLIT_NAMES: Final = ("train", "val", "test")
AXES: Final = ("x", "y", "z")
SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"

# What to do when a column fails (appended to its line of the error).
HINTS: Final = {
    "id": "Two files map to one volume id (e.g. a.nii and a.nii.gz): keep one file per volume.",
    **{
        f"spacing_{a}": "Fix the voxel size (pixdim) in that NIfTI header: it must be a positive number of µm."
        for a in AXES
    },
    **{f"shape_{a}": "The NIfTI file holds no voxels along that axis; re-export the volume." for a in AXES},
    "vessel_fraction": "The mask must be binary (0/1); re-export it.",
    "sha256": "The manifest file was edited by hand; rebuild it by scanning the dataset folder again.",
    "split": "Recreate the splits from this dataset (`minivess data split`).",
}


def manifest_schema() -> pa.DataFrameSchema:
    """The schema of ``manifest_frame``: unique ids, 3-D positive shapes, positive finite spacing, known splits."""
    import pandera.pandas as pa

    columns: dict[str, pa.Column] = {
        "id": pa.Column(str, pa.Check.str_length(min_value=1), unique=True, nullable=False),
        "image": pa.Column(str, pa.Check.str_length(min_value=1), nullable=False),
        "mask": pa.Column(str, pa.Check.str_length(min_value=1), nullable=False),
        "skeleton": pa.Column(str, nullable=True),
    }
    for axis in AXES:
        columns[f"shape_{axis}"] = pa.Column("int64", pa.Check.gt(0), nullable=False)
    for axis in AXES:
        columns[f"spacing_{axis}"] = pa.Column("float64", [pa.Check.gt(0), finite_check()], nullable=False)
    columns["vessel_fraction"] = pa.Column("float64", pa.Check.in_range(0.0, 1.0), nullable=False)
    columns["sha256"] = pa.Column(str, pa.Check.str_matches(SHA256_PATTERN), nullable=False)
    columns["split"] = pa.Column(str, pa.Check.isin(list(SPLIT_NAMES)), nullable=True)
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name="dataset manifest")


def manifest_frame(manifest: DatasetManifest, splits: Splits | None = None) -> pd.DataFrame:
    """The manifest as one row per volume; ``split`` names the split(s) holding the id (None without splits).

    A volume in several splits gets the names joined by '+', one in none gets '' — both fail the split check.
    """
    import pandas as pd

    membership: dict[str, list[str]] = {}
    if splits is not None:
        for name in SPLIT_NAMES:
            for vid in splits.get(name):
                membership.setdefault(vid, []).append(name)
    rows = [
        {
            "id": v.id,
            "image": str(v.image),
            "mask": str(v.mask),
            "skeleton": None if v.skeleton is None else str(v.skeleton),
            **{f"shape_{a}": int(n) for a, n in zip(AXES, v.shape, strict=True)},
            **{f"spacing_{a}": float(s) for a, s in zip(AXES, v.spacing, strict=True)},
            "vessel_fraction": float(v.vessel_fraction),
            "sha256": v.sha256,
            "split": None if splits is None else "+".join(membership.get(v.id, [])),
        }
        for v in manifest.volumes
    ]
    frame = pd.DataFrame(rows, columns=list(manifest_schema().columns))
    return frame.astype({f"shape_{a}": "int64" for a in AXES} | {f"spacing_{a}": "float64" for a in AXES})


def manifest_problems(frame: pd.DataFrame) -> list[str]:
    """The failures of ``frame`` against ``manifest_schema`` (all of them, one line per column and check)."""
    return check_frame(manifest_schema(), frame, row_label="id", hints=HINTS)


def validate_manifest(manifest: DatasetManifest, splits: Splits | None = None) -> None:
    """Check a manifest (and, given splits, that every volume is in exactly one split).

    Split ids that are not volumes of the manifest are reported too.

    Raises:
        DataError: Names each failing column, the check and the first bad volumes, with what to do.
    """
    problems = manifest_problems(manifest_frame(manifest, splits))
    if splits is not None:
        known = set(manifest.ids())
        unknown = sorted({vid for name in SPLIT_NAMES for vid in splits.get(name)} - known)
        if unknown:
            problems.append(
                f"column 'split' names volume(s) not in the dataset: {', '.join(unknown[:3])}"
                f"{' …' if len(unknown) > 3 else ''}. {HINTS['split']}"
            )
    if problems:
        raise DataError(
            f"the dataset manifest of {manifest.root} failed {len(problems)} schema check(s):\n- "
            + "\n- ".join(problems)
        )
