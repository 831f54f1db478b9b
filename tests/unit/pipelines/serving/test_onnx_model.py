"""ONNX export (fixed patch, dynamic batch) and ONNX Runtime as the sliding-window predictor, against torch."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import onnx
import pytest
import torch

from minivess.configs.experiment import InferenceConfig
from minivess.errors import TrainingError
from minivess.pipelines.serving.onnx_model import (
    INPUT_NAME,
    INPUT_SPEC_FILE,
    ONNX_FILE,
    NotExportableError,
    OnnxInputSpec,
    OnnxPredictor,
    check_patches,
    export_onnx,
)
from minivess.pipelines.training.checkpoint import ModelSpec
from minivess.pipelines.training.evaluation import segment_probability
from minivess.pipelines.training.inference import build_model

PATCH = (32, 32, 16)


def _model(adapter: str, options: dict[str, object]) -> tuple[torch.nn.Module, ModelSpec]:
    spec = ModelSpec(adapter=adapter, options=options, patch_size=PATCH, spacing=(1.0, 1.0, 1.0))
    torch.manual_seed(0)
    return build_model(spec).eval(), spec


@pytest.mark.parametrize(("adapter", "options"), [("segresnet", {"init_filters": 4}), ("dynunet", {})])
def test_export_has_fixed_patch_dynamic_batch_and_matches_torch(
    tmp_path: Path, adapter: str, options: dict[str, object]
) -> None:
    model, spec = _model(adapter, options)
    exported = export_onnx(model, spec, tmp_path)

    graph = onnx.load(str(tmp_path / ONNX_FILE)).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert graph.input[0].name == INPUT_NAME
    assert dims[0].dim_param == "batch" and not dims[0].dim_value  # dynamic
    assert [d.dim_value for d in dims[1:]] == [1, *PATCH]
    assert OnnxInputSpec.model_validate_json((tmp_path / INPUT_SPEC_FILE).read_text()) == exported
    assert exported.exporter == "torchscript"

    for provider in ("cpu", "openvino"):
        predictor = OnnxPredictor(tmp_path / ONNX_FILE, threads=1, provider=provider)
        sizes, logits_diff, prob_diff = check_patches(model, predictor, spec, temperature=1.0)
        assert sizes == [1, 3]
        assert logits_diff < 1e-3, provider
        assert prob_diff < 1e-4, provider
        assert predictor(torch.zeros(2, 1, *PATCH)).shape == (2, 2, *PATCH)


def test_check_sees_a_different_network(tmp_path: Path) -> None:
    """The comparison can fail: the graph of one network against another network's weights differs."""
    model, spec = _model("segresnet", {"init_filters": 4})
    export_onnx(model, spec, tmp_path)
    torch.manual_seed(1)
    other = build_model(spec).eval()
    _, logits_diff, prob_diff = check_patches(other, OnnxPredictor(tmp_path / ONNX_FILE), spec, temperature=1.0)
    assert logits_diff > 1e-2 and prob_diff > 1e-3


class _Eigen(torch.nn.Module):
    """A forward with an operator ONNX has no counterpart for (complex eigenvalues)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.eigvals(x[0, 0]).real.expand(x.shape[0], 2, 4, 4, 4)


def test_not_exportable_names_both_exporters(tmp_path: Path) -> None:
    spec = ModelSpec(adapter="custom", options={}, patch_size=(4, 4, 4), spacing=(1.0, 1.0, 1.0))
    with pytest.raises(
        NotExportableError, match=r"custom is not exportable to ONNX: torchscript: .*eigvals.*; dynamo: "
    ) as err:
        export_onnx(_Eigen(), spec, tmp_path)
    assert "\x1b[" not in str(err.value)  # no terminal colour codes from the exporter's message
    assert not (tmp_path / ONNX_FILE).exists()


def test_missing_file_says_how_to_export(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="minivess export RUN"):
        OnnxPredictor(tmp_path / ONNX_FILE)


def test_whole_volume_probability_with_temperature_matches_torch(tmp_path: Path) -> None:
    """The `predict` path (RAS, intensity, Gaussian sliding window, softmax(logits / T)) with either predictor."""
    model, spec = _model("segresnet", {"init_filters": 4})
    export_onnx(model, spec, tmp_path)
    volume = np.random.default_rng(0).normal(100, 20, size=(40, 36, 20)).astype(np.float32)
    image = tmp_path / "volume.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.diag([-0.7, 0.7, 2.0, 1.0])), str(image))
    cfg, cpu = InferenceConfig(), torch.device("cpu")

    expected = segment_probability(model, spec, image, cfg, cpu, temperature=0.5)
    actual = segment_probability(OnnxPredictor(tmp_path / ONNX_FILE), spec, image, cfg, cpu, temperature=0.5)
    plain = segment_probability(model, spec, image, cfg, cpu, temperature=1.0)

    assert actual.shape == volume.shape
    assert float(np.abs(actual - expected).max()) < 1e-4
    assert float(np.abs(plain - expected).max()) > 1e-3  # the temperature is applied, not ignored
