"""MONAI dict transforms (load → orient → normalise, cached) plus random crops, flips and TorchIO augmentation."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import torch
import torchio as tio
from monai import transforms as mt

from minivess.configs.data import AugmentConfig, DataConfig

IMAGE, LABEL = "image", "label"
KEYS = (IMAGE, LABEL)
INTENSITY_PERCENTILES = (0.5, 99.5)


def deterministic_transforms(with_label: bool = True) -> mt.Compose:
    """Load, channel-first, RAS orientation, percentile intensity normalisation to [0, 1]; cacheable."""
    keys = list(KEYS) if with_label else [IMAGE]
    steps: list[Any] = [
        mt.LoadImaged(keys=keys, image_only=True),
        mt.EnsureChannelFirstd(keys=keys),
        mt.Orientationd(keys=keys, axcodes="RAS", labels=None),
        mt.ScaleIntensityRangePercentilesd(
            keys=IMAGE,
            lower=INTENSITY_PERCENTILES[0],
            upper=INTENSITY_PERCENTILES[1],
            b_min=0.0,
            b_max=1.0,
            clip=True,
        ),
        mt.EnsureTyped(keys=IMAGE, dtype=torch.float32),
    ]
    if with_label:
        steps.append(mt.EnsureTyped(keys=LABEL, dtype=torch.uint8))
    return mt.Compose(steps)


class TorchIOAugmentd(mt.MapTransform, mt.RandomizableTrait):
    """Apply a TorchIO pipeline to image + label as a ``tio.Subject``, so labels stay nearest-neighbour.

    MONAI's own ``RandTorchIOd`` wraps keys as scalar images, which would interpolate the mask.
    """

    def __init__(self, pipeline: tio.Transform) -> None:
        super().__init__(keys=KEYS)
        self.pipeline = pipeline

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        out = dict(data)
        image, label = out[IMAGE], out[LABEL]
        subject = tio.Subject(
            image=tio.ScalarImage(tensor=torch.as_tensor(np.asarray(image), dtype=torch.float32)),
            label=tio.LabelMap(tensor=torch.as_tensor(np.asarray(label), dtype=torch.uint8)),
        )
        result = self.pipeline(subject)
        out[IMAGE] = _keep_meta(image, subject_tensor(result, "image").float())
        out[LABEL] = _keep_meta(label, subject_tensor(result, "label").to(torch.uint8))
        return out


def subject_tensor(subject: Any, key: str) -> torch.Tensor:
    data = subject[key].data
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"TorchIO returned {type(data).__name__} for '{key}', expected a tensor")
    return data


def _keep_meta(original: Any, tensor: torch.Tensor) -> Any:
    """Put augmented voxels back into the MetaTensor so affine/spacing metadata survives."""
    if hasattr(original, "meta"):
        from monai.data import MetaTensor

        return MetaTensor(tensor, meta=dict(original.meta), applied_operations=list(original.applied_operations))
    return tensor


def torchio_pipeline(cfg: AugmentConfig) -> tio.Transform | None:
    """The TorchIO part of the augmentation, or None when every TorchIO transform is switched off."""
    p = cfg.probability
    steps: list[tio.Transform] = []
    if cfg.affine:
        steps.append(tio.RandomAffine(scales=0.1, degrees=10, p=p))
    if cfg.elastic:
        steps.append(tio.RandomElasticDeformation(num_control_points=5, max_displacement=3, p=p))
    if cfg.bias_field:
        steps.append(tio.RandomBiasField(coefficients=0.3, p=p))
    if cfg.gamma:
        steps.append(tio.RandomGamma(log_gamma=0.3, p=p))
    if cfg.noise:
        steps.append(tio.RandomNoise(std=(0.0, 0.05), p=p))
    return tio.Compose(steps) if steps else None


def train_transforms(cfg: DataConfig) -> mt.Compose:
    """Random part of training: pad to the patch, balanced pos/neg crops, flips, TorchIO augmentation."""
    patch = list(cfg.patch_size)
    pos = cfg.pos_fraction
    steps: list[Any] = [
        mt.SpatialPadd(keys=list(KEYS), spatial_size=patch),
        mt.RandCropByPosNegLabeld(
            keys=list(KEYS),
            label_key=LABEL,
            spatial_size=patch,
            pos=pos,
            neg=1.0 - pos,
            num_samples=cfg.samples_per_volume,
            image_key=None,
            allow_smaller=False,
        ),
    ]
    if cfg.augment.flips:
        steps += [mt.RandFlipd(keys=list(KEYS), prob=0.5, spatial_axis=axis) for axis in range(3)]
    pipeline = torchio_pipeline(cfg.augment)
    if pipeline is not None:
        steps.append(TorchIOAugmentd(pipeline))
    steps.append(mt.EnsureTyped(keys=IMAGE, dtype=torch.float32, track_meta=False))
    steps.append(mt.EnsureTyped(keys=LABEL, dtype=torch.long, track_meta=False))
    return mt.Compose(steps)


def eval_transforms() -> mt.Compose:
    """Validation/test: the deterministic part only; whole volumes go through sliding-window inference."""
    return mt.Compose([mt.EnsureTyped(keys=IMAGE, dtype=torch.float32), mt.EnsureTyped(keys=LABEL, dtype=torch.long)])
