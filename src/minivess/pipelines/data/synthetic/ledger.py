"""The label-noise ledger: exactly which voxels of which z-slices each corruption changed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CorruptionKind = Literal["dropped_segment", "eroded", "dilated", "spurious_blob"]


class SliceChange(BaseModel):
    """Changed voxels of one z-slice."""

    model_config = ConfigDict(extra="forbid")

    z: int = Field(description="Slice index along Z (the last array axis).")
    removed: int = Field(description="Vessel voxels of the clean mask set to background on this slice.")
    added: int = Field(description="Background voxels of the clean mask set to vessel on this slice.")


class CorruptionRecord(BaseModel):
    """One corruption and its exact footprint (each voxel is changed by at most one record)."""

    model_config = ConfigDict(extra="forbid")

    kind: CorruptionKind = Field(description="What was done: a dropped branch, an eroded/dilated region or a blob.")
    bbox: tuple[int, int, int, int, int, int] = Field(
        description="Bounding box of the changed voxels, half-open (x0, y0, z0, x1, y1, z1)."
    )
    voxels_removed: int = Field(description="Vessel voxels turned into background.")
    voxels_added: int = Field(description="Background voxels turned into vessel.")
    slices: list[SliceChange] = Field(description="Per-slice counts, only slices with changes, ascending z.")
    branch: int | None = Field(None, description="Dropped branch id (dropped_segment only).")
    region: tuple[int, int, int, int, int, int] | None = Field(
        None, description="The box the operation was applied to, half-open (eroded/dilated/spurious_blob)."
    )

    @property
    def z_indices(self) -> list[int]:
        """Slices this corruption touched."""
        return [s.z for s in self.slices]


class LabelNoiseLedger(BaseModel):
    """Ground truth of the label corruptions of one volume (JSON via ``model_dump_json``)."""

    model_config = ConfigDict(extra="forbid")

    shape: tuple[int, int, int] = Field(description="Volume shape (X, Y, Z).")
    corrupted: bool = Field(description="Whether this volume was selected for corruption at all.")
    records: list[CorruptionRecord] = Field(default_factory=list, description="Every corruption, in order.")
    per_slice_removed: list[int] = Field(description="Voxels removed per z-slice (clean 1 → 0), length Z.")
    per_slice_added: list[int] = Field(description="Voxels added per z-slice (clean 0 → 1), length Z.")

    @property
    def voxels_changed(self) -> int:
        """Total voxels that differ between the clean and the corrupted mask."""
        return sum(self.per_slice_removed) + sum(self.per_slice_added)

    @property
    def per_slice_changed(self) -> list[int]:
        """Voxels that differ between the clean and the corrupted mask, per z-slice."""
        return [r + a for r, a in zip(self.per_slice_removed, self.per_slice_added, strict=True)]


class DatasetLedger(BaseModel):
    """The ``label_noise_ledger.json`` of a dataset: one ledger per volume id."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(description="Dataset seed.")
    volumes: dict[str, LabelNoiseLedger] = Field(description="Ledger per volume id (e.g. synth_000).")
