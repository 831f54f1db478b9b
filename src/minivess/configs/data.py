"""Data config: where the volumes are, how they are split, cropped and augmented."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator


class AugmentConfig(BaseModel):
    """Random augmentations, each switchable. Spatial ones touch image and mask; intensity ones the image."""

    model_config = ConfigDict(extra="forbid")

    flips: bool = Field(True, description="Random flips along each axis (MONAI RandFlipd, p=0.5 per axis).")
    affine: bool = Field(False, description="TorchIO RandomAffine: small rotations (10°) and scaling (±10 %).")
    elastic: bool = Field(False, description="TorchIO RandomElasticDeformation, light (costly: ~0.6 s/sample).")
    bias_field: bool = Field(True, description="TorchIO RandomBiasField (coefficients 0.3).")
    noise: bool = Field(True, description="TorchIO RandomNoise (std up to 0.05 of the normalised range).")
    gamma: bool = Field(True, description="TorchIO RandomGamma (log-gamma ±0.3).")
    probability: float = Field(0.5, ge=0.0, le=1.0, description="Probability each TorchIO transform is applied.")


class DataConfig(BaseModel):
    """Dataset location, split and patch sampling."""

    model_config = ConfigDict(extra="forbid")

    dir: Path | None = Field(
        None,
        description="MinIVess-layout folder (raw/ + seg/). Default: HOME/data/synthetic, generated if absent.",
    )
    patch_size: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        (64, 64, 16), description="Training crop and sliding-window ROI (X, Y, Z) in voxels."
    )
    samples_per_volume: PositiveInt = Field(2, description="Random crops drawn per volume per epoch.")
    pos_fraction: float = Field(
        0.67, ge=0.0, le=1.0, description="Share of crops centred on vessel voxels (rest on background)."
    )
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="Share of volumes for validation.")
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="Share of volumes held out for testing.")
    split_seed: int = Field(0, description="Seed of the train/val/test split (independent of the training seed).")
    folds: int | None = Field(
        None,
        ge=2,
        description="K-fold mode: deal the volumes into this many folds; fold `data.fold` is the test split, val "
        "is data.val_fraction of the other folds, test_fraction is ignored. None = one train/val/test split.",
    )
    fold: int = Field(0, ge=0, description="The held-out (test) fold in k-fold mode, 0 ≤ fold < data.folds.")
    cache_rate: float = Field(1.0, ge=0.0, le=1.0, description="Share of volumes whose loading is cached in RAM.")
    num_workers: int = Field(0, ge=0, description="DataLoader workers (0 = main process; best on 2 CPU cores).")
    augment: AugmentConfig = Field(default_factory=AugmentConfig)

    @model_validator(mode="after")
    def _fold_in_range(self) -> DataConfig:
        if self.folds is None and self.fold != 0:
            raise ValueError(f"data.fold={self.fold} needs data.folds (the number of folds), e.g. data.folds=5.")
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"data.fold={self.fold} must be below data.folds={self.folds} (folds count from 0).")
        return self
