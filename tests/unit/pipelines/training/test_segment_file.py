"""Prediction undoes the RAS reorientation: a flipped file gives the flipped mask."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from minivess.configs.experiment import InferenceConfig
from minivess.pipelines.training.checkpoint import ModelSpec
from minivess.pipelines.training.evaluation import segment_file
from minivess.pipelines.training.inference import build_model
from tests.helpers import tube_volume


def test_segment_file_keeps_the_input_grid_for_any_orientation(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = ModelSpec(adapter="segresnet", options={"init_filters": 4}, patch_size=(16, 16, 16), spacing=(1, 1, 2))
    model = build_model(spec).eval()
    image, _ = tube_volume((24, 20, 16))
    image[:4] += 80.0  # make the X axis asymmetric so a missed flip would show
    ras = tmp_path / "ras.nii.gz"
    las = tmp_path / "las.nii.gz"
    nib.save(nib.Nifti1Image(image, np.diag([1.0, 1.0, 2.0, 1.0])), ras)
    flipped_affine = np.diag([-1.0, 1.0, 2.0, 1.0])
    flipped_affine[0, 3] = 23.0  # same physical positions, X stored in reverse
    nib.save(nib.Nifti1Image(image[::-1].copy(), flipped_affine), las)

    cfg = InferenceConfig(overlap=0.0, mode="constant")
    mask_ras = segment_file(model, spec, ras, cfg, torch.device("cpu"))
    mask_las = segment_file(model, spec, las, cfg, torch.device("cpu"))
    assert mask_ras.shape == mask_las.shape == (24, 20, 16)
    assert mask_ras.dtype == np.uint8
    assert 0 < mask_ras.sum() < mask_ras.size  # a non-trivial prediction, so the comparison means something
    np.testing.assert_array_equal(mask_las, mask_ras[::-1])
