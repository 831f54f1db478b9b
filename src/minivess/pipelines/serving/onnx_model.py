"""ONNX export of a trained network (fixed patch, dynamic batch) and ONNX Runtime as a sliding-window predictor."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import TrainingError
from minivess.fileio import write_json_atomic
from minivess.pipelines.training.checkpoint import ModelSpec

logger = logging.getLogger(__name__)

ONNX_ARTIFACT: Final = "onnx"
ONNX_FILE: Final = "model.onnx"
INPUT_SPEC_FILE: Final = "input_spec.json"
CHECK_FILE: Final = "check.json"
INPUT_NAME: Final = "image"
OUTPUT_NAME: Final = "logits"
OPSET: Final = 17
_ANSI: Final = re.compile(r"\x1b\[[0-9;]*m")
PROBABILITY_TOLERANCE: Final = 1e-3  # max |p_onnx − p_torch| an export may differ by and still be stored
Exporter = Literal["torchscript", "dynamo"]
GraphOptimization = Literal["disable", "basic", "extended", "all"]
Provider = Literal["auto", "openvino", "cpu"]
OPENVINO_EP: Final = "OpenVINOExecutionProvider"
CPU_EP: Final = "CPUExecutionProvider"


class NotExportableError(TrainingError):
    """torch's ONNX exporters could not export this network (the message says why)."""


class OnnxInputSpec(BaseModel):
    """What a client must feed the exported graph, and where it came from."""

    model_config = ConfigDict(extra="forbid")

    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    shape: tuple[str | int, ...] = Field(description="(batch, channels, X, Y, Z); batch is dynamic.")
    dtype: str = "float32"
    adapter: str
    patch_size: tuple[int, int, int]
    in_channels: int
    out_channels: int
    opset: int
    exporter: Exporter
    torch_version: str
    onnx_version: str
    preprocessing: str = "RAS orientation, intensity scaled by the training percentiles (see model.json)"


class OnnxCheck(BaseModel):
    """ONNX Runtime against eager torch on the same inputs."""

    model_config = ConfigDict(extra="forbid")

    batch_sizes: list[int]
    max_abs_diff_logits: float
    max_abs_diff_probability: float = Field(description="On softmax(logits / T)[vessel], T = the run's temperature.")
    temperature: float
    tolerance: float = PROBABILITY_TOLERANCE
    volume: str | None = Field(None, description="Whole volume also compared through the sliding window, if any.")
    volume_max_abs_diff_probability: float | None = None
    onnxruntime_version: str
    provider: str = Field(description="The execution provider compared against torch.")

    @property
    def passed(self) -> bool:
        worst = max(self.max_abs_diff_probability, self.volume_max_abs_diff_probability or 0.0)
        return worst <= self.tolerance


def export_onnx(model: torch.nn.Module, spec: ModelSpec, folder: Path) -> OnnxInputSpec:
    """Write ``folder/model.onnx`` + ``input_spec.json``: the patch size fixed, the batch dimension dynamic.

    TorchScript-based export first (≈1.5 s for SegResNet here); torch's dynamo exporter if that fails
    (SwinUNETR: the TorchScript tracer fails on it, dynamo exports it in ~1–2 min on 2 cores).

    Raises:
        NotExportableError: Neither exporter handles the network; both reasons are in the message.
    """
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ONNX_FILE
    example = torch.zeros(2, spec.in_channels, *spec.patch_size)
    model = model.cpu().eval()
    errors: list[str] = []
    exporters: tuple[Exporter, ...] = ("torchscript", "dynamo")
    for exporter in exporters:
        try:
            _export(model, example, path, exporter)
            onnx.checker.check_model(str(path))
        except Exception as exc:  # every exporter failure is a reason to report
            first_line = _ANSI.sub("", str(exc)).strip().split("\n", 1)[0]
            errors.append(f"{exporter}: {type(exc).__name__}: {first_line}"[:400])
            path.unlink(missing_ok=True)
            continue
        input_spec = OnnxInputSpec(
            shape=("batch", spec.in_channels, *spec.patch_size),
            adapter=spec.adapter,
            patch_size=spec.patch_size,
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            opset=OPSET,
            exporter=exporter,
            torch_version=torch.__version__,
            onnx_version=onnx.__version__,
        )
        write_json_atomic(folder / INPUT_SPEC_FILE, input_spec)
        return input_spec
    raise NotExportableError(f"{spec.adapter} is not exportable to ONNX: " + "; ".join(errors))


def _export(model: torch.nn.Module, example: torch.Tensor, path: Path, exporter: Exporter) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes: the patch is fixed
        # the same graph names either way; each exporter declares the dynamic batch its own way
        dynamic: dict[str, Any] = (
            {
                "dynamo": False,
                "dynamic_axes": {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                "opset_version": OPSET,
            }
            if exporter == "torchscript"
            else {
                "dynamo": True,
                "dynamic_shapes": ({0: torch.export.Dim("batch", min=1, max=1024)},),
                "opset_version": max(OPSET, 18),
                "verbose": False,
            }
        )
        torch.onnx.export(model, (example,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], **dynamic)


def ort_session(
    path: Path, threads: int | None = None, optimization: GraphOptimization = "all", provider: Provider = "auto"
) -> Any:  # onnxruntime.InferenceSession (untyped)
    """A CPU ONNX Runtime session with ``threads`` intra-op threads (default torch's count: the same budget).

    ``auto`` takes OpenVINO's execution provider when this onnxruntime build has it (onnxruntime-openvino, our
    dependency on x86-64 Linux; ~3× the default provider on 3-D convolutions here), else the default CPU one.
    """
    import onnxruntime as ort

    if not path.is_file():
        raise TrainingError(f"{path} does not exist: export the run first (`minivess export RUN`).")
    threads = threads or torch.get_num_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[optimization]
    # Spinning worker threads burn the other core between windows; off, they sleep (measured faster on 2 cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    available = ort.get_available_providers()
    if provider == "openvino" and OPENVINO_EP not in available:
        raise TrainingError(
            f"this onnxruntime build has no OpenVINO provider (it has {', '.join(available)}); "
            "install onnxruntime-openvino or use provider 'cpu'."
        )
    providers: list[Any] = [CPU_EP]
    if provider in ("auto", "openvino") and OPENVINO_EP in available:
        providers.insert(0, (OPENVINO_EP, {"device_type": "CPU", "num_of_threads": str(threads)}))
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime's own error types: a truncated or foreign file
        raise TrainingError(f"ONNX Runtime cannot load {path}: {exc}; re-export it (`minivess export RUN`).") from exc


class OnnxPredictor:
    """A callable for MONAI's ``sliding_window_inference``: (B, C, X, Y, Z) tensor → logits via ONNX Runtime."""

    def __init__(
        self,
        path: Path,
        threads: int | None = None,
        optimization: GraphOptimization = "all",
        provider: Provider = "auto",
    ) -> None:
        self.path = path
        self.session = ort_session(path, threads, optimization, provider)

    @property
    def provider(self) -> str:
        """The execution provider that runs the graph (the first the session took)."""
        return str(self.session.get_providers()[0])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        (logits,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: array})
        return torch.from_numpy(logits)


def check_patches(
    model: torch.nn.Module, predictor: OnnxPredictor, spec: ModelSpec, temperature: float, seed: int = 0
) -> tuple[list[int], float, float]:
    """Max |Δ logits| and |Δ vessel probability| between torch and ONNX Runtime on random patches, batch 1 and 3."""
    from minivess.pipelines.uncertainty.temperature import vessel_probability

    generator = torch.Generator().manual_seed(seed)
    sizes, worst_logits, worst_prob = [1, 3], 0.0, 0.0
    model = model.cpu().eval()
    for size in sizes:
        batch = torch.randn(size, spec.in_channels, *spec.patch_size, generator=generator)
        with torch.no_grad():
            expected = model(batch).float()
        actual = predictor(batch)
        worst_logits = max(worst_logits, float((expected - actual).abs().max()))
        for e, a in zip(expected, actual, strict=True):
            diff = np.abs(vessel_probability(e, temperature) - vessel_probability(a, temperature))
            worst_prob = max(worst_prob, float(diff.max()))
    return sizes, worst_logits, worst_prob
