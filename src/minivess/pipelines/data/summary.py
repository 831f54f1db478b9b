"""Dataset summary for `minivess data info`: per-volume facts plus a MIP PNG per volume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.data.nifti import read_array
from minivess.pipelines.viz import mip_png


class VolumeSummary(BaseModel):
    id: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    vessel_fraction: float
    intensity_mean: float
    intensity_p99: float
    mip_png: Path | None


def summarise_dataset(
    manifest: DatasetManifest, mip_dir: Path | None, on_volume: Callable[[str], None] | None = None
) -> list[VolumeSummary]:
    """Read each volume once: intensity stats, and (if `mip_dir`) image + mask MIPs as PNG."""

    rows = []
    for record in manifest.volumes:
        image = read_array(record.image, np.float32)
        png = None
        if mip_dir is not None:
            png = mip_png(mip_dir / f"{record.id}_mip.png", image, read_array(record.mask), title=record.id)
        rows.append(
            VolumeSummary(
                id=record.id,
                shape=record.shape,
                spacing=record.spacing,
                vessel_fraction=record.vessel_fraction,
                intensity_mean=float(image.mean()),
                intensity_p99=float(np.percentile(image, 99)),
                mip_png=png,
            )
        )
        if on_volume:
            on_volume(record.id)
    return rows
