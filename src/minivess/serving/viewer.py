"""The Gradio viewer (`minivess app`): segment a volume, browse its slices with the prediction and its uncertainty."""

from __future__ import annotations

import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by gradio: no telemetry and no version check online

import gradio as gr
import nibabel as nib
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from minivess.errors import MinivessError, TrackingError, TrainingError
from minivess.pipelines.data.manifest import IMAGE_DIRS, MASK_DIRS
from minivess.pipelines.data.nifti import is_nifti, load_nifti, volume_id
from minivess.pipelines.metrics.volume_metrics import compute_volume_metrics
from minivess.pipelines.serving.segmenter import (
    Engine,
    Segmentation,
    Segmenter,
    UploadError,
    UploadLimits,
    read_upload,
)
from minivess.settings import Settings

logger = logging.getLogger(__name__)

ENGINES: Final = ("auto", "torch", "onnx")
ALIASES: Final = ("champion", "challenger")
RECENT_RUNS: Final = 20
DISPLAY_SIZE: Final = 384  # small volumes are upscaled (nearest) to about this many pixels: crisp, not blurred
CACHED_MODELS: Final = 4
CACHE_AGE_S: Final = 3600  # rendered slices, uploads and masks older than this are deleted
PREDICTION_RGB: Final = np.array([255, 60, 60], np.float32)
REFERENCE_RGB: Final = np.array([40, 230, 110], np.uint8)
# "magma"-like ramp for entropy 0 → ln 2 nats (anchors, linearly interpolated)
ENTROPY_RAMP: Final = np.array([[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]], np.float32)
NO_CHAMPION: Final = (
    "no {alias} registered yet — train and promote a run first (`minivess train`, then "
    '`minivess ask "promote the last run to {alias}"`), or pick a run from the list.'
)

_models: OrderedDict[tuple[str, str], Segmenter] = OrderedDict()
_models_lock = threading.Lock()


def gradio_temp_dir(settings: Settings) -> Path:
    """Point Gradio's temp files (uploads, rendered images, downloads) inside the minivess home."""
    folder = settings.home_dir / "gradio"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


def open_segmenter(model_ref: str, engine: Engine, settings: Settings) -> Segmenter:
    """The Segmenter of ``model_ref`` with ``engine``, opened once per process (keyed by the run it resolves to).

    Raises:
        TrackingError: ``champion``/``challenger`` is not registered (the message says what to do).
    """
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import resolve_model_ref

    try:  # an alias is resolved every time: a promotion shows up without a restart
        run_id = resolve_model_ref(client_for(settings.tracking_uri), model_ref)
    except (TrackingError, TrainingError) as exc:
        alias = model_ref.partition(":")[0]
        if alias in ALIASES:
            raise TrackingError(NO_CHAMPION.format(alias=alias)) from exc
        raise
    key = (run_id, engine)
    with _models_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    segmenter = Segmenter.open(run_id, settings, engine)
    with _models_lock:
        _models[key] = segmenter
        while len(_models) > CACHED_MODELS:
            _models.popitem(last=False)
    return segmenter


def model_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, value) of the dropdown: champion, challenger if registered, then the most recent finished runs."""
    from mlflow.entities import ViewType

    from minivess.pipelines.tracking import naming
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import run_for_alias

    client = client_for(settings.tracking_uri)
    choices: list[tuple[str, str]] = []
    for alias in ALIASES:
        try:
            choices.append((f"{alias} · {run_for_alias(client, alias, naming.DEFAULT_REGISTERED_MODEL)[:8]}", alias))
        except TrackingError:
            if alias == "champion":  # always offered: choosing it explains how to get one
                choices.append(("champion (none registered yet)", alias))
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    runs = client.search_runs(
        experiments, "attributes.status = 'FINISHED'", order_by=["attributes.start_time DESC"], max_results=100
    )
    models = [
        r
        for r in runs
        if r.data.tags.get(naming.TAG_MODEL_FAMILY)
        and r.data.tags.get(naming.TAG_RUN_KIND) not in ("evaluate", "search")
    ]
    for run in models[:RECENT_RUNS]:
        history = client.get_metric_history(run.info.run_id, naming.METRIC_VAL_DICE)
        dice = f"val_dice {max(m.value for m in history):.3f}" if history else "val_dice —"
        choices.append((f"{run.info.run_id[:8]} · {run.data.tags[naming.TAG_MODEL_FAMILY]} · {dice}", run.info.run_id))
    return choices


def dataset_volumes(settings: Settings) -> dict[str, tuple[Path, Path | None]]:
    """``dataset/volume`` → (image, mask or None) for every MinIVess-layout folder in the data folder (and itself)."""
    root = settings.resolved_data_dir
    if not root.is_dir():
        return {}
    found: dict[str, tuple[Path, Path | None]] = {}
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        image_dir = next((folder / n for n in IMAGE_DIRS if (folder / n).is_dir()), None)
        if image_dir is None:
            continue
        mask_dir = next((folder / n for n in MASK_DIRS if (folder / n).is_dir()), None)
        masks = {volume_id(p): p for p in sorted(mask_dir.iterdir()) if is_nifti(p)} if mask_dir else {}
        for image in sorted(p for p in image_dir.iterdir() if is_nifti(p)):
            found[f"{folder.name}/{volume_id(image)}"] = (image, masks.get(volume_id(image)))
    return found


@dataclass(frozen=True)
class Viewed:
    """A segmented volume, display-ready: every array (X, Y, Z) uint8."""

    image: NDArray[np.uint8]  # intensity scaled to 0–255 (0.5–99.5 percentiles)
    mask: NDArray[np.uint8]  # prediction, 0/1
    entropy: NDArray[np.uint8]  # 0–255 = 0 → ln 2 nats
    label: NDArray[np.uint8] | None  # reference mask, 0/1


def display_scale(volume: NDArray[Any]) -> NDArray[np.uint8]:
    """Intensities to 0–255 between the 0.5 and 99.5 percentiles (robust to hot pixels)."""
    data = np.nan_to_num(np.asarray(volume, dtype=np.float32))
    low, high = (float(v) for v in np.percentile(data, [0.5, 99.5]))
    scaled = np.clip((data - low) / max(high - low, 1e-6), 0.0, 1.0)
    return np.asarray(scaled * 255, dtype=np.uint8)


def _plane(volume: NDArray[Any], factor: int) -> NDArray[Any]:
    """An (X, Y) plane as a picture (rows = Y), upscaled by an integer factor."""
    picture = volume.T
    return np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1) if factor > 1 else picture


def _edges(mask: NDArray[Any]) -> NDArray[np.bool_]:
    """The boundary pixels of a 2-D mask (inside pixels with a 4-neighbour outside)."""
    inside: NDArray[np.bool_] = mask.astype(bool)
    padded = np.pad(inside, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return np.asarray(inside & ~interior, dtype=bool)


def _factor(shape: tuple[int, ...]) -> int:
    return max(1, math.ceil(DISPLAY_SIZE / max(shape[0], shape[1])))


def _compose(gray: NDArray[Any], fill: NDArray[Any], reference: NDArray[Any] | None) -> Image.Image:
    """Gray image, prediction in translucent red with a red outline, the reference as a green outline."""
    rgb = np.repeat(gray[..., None].astype(np.float32), 3, axis=2)
    vessel = fill.astype(bool)
    rgb[vessel] = 0.55 * rgb[vessel] + 0.45 * PREDICTION_RGB
    rgb[_edges(vessel)] = PREDICTION_RGB
    out = rgb.astype(np.uint8)
    if reference is not None:
        out[_edges(reference)] = REFERENCE_RGB
    return Image.fromarray(out)


def overlay_slice(viewed: Viewed, z: int) -> Image.Image:
    """Slice ``z`` with the prediction (and the reference mask's outline) overlaid."""
    k = _factor(viewed.image.shape)
    label = None if viewed.label is None else _plane(viewed.label[:, :, z], k)
    return _compose(_plane(viewed.image[:, :, z], k), _plane(viewed.mask[:, :, z], k), label)


def uncertainty_slice(viewed: Viewed, z: int) -> Image.Image:
    """Slice ``z`` with the predictive entropy as a colour ramp over the image (opaque where uncertain)."""
    k = _factor(viewed.image.shape)
    gray = _plane(viewed.image[:, :, z], k).astype(np.float32)[..., None]
    entropy = _plane(viewed.entropy[:, :, z], k).astype(np.float32) / 255.0
    position = entropy * (len(ENTROPY_RAMP) - 1)
    lower = np.minimum(position.astype(int), len(ENTROPY_RAMP) - 2)
    colour = ENTROPY_RAMP[lower] + (position - lower)[..., None] * (ENTROPY_RAMP[lower + 1] - ENTROPY_RAMP[lower])
    alpha = 0.9 * entropy[..., None]
    return Image.fromarray(((1 - alpha) * 0.8 * gray + alpha * colour).astype(np.uint8))


def mip_image(viewed: Viewed) -> Image.Image:
    """Maximum-intensity projection along Z: the image's MIP, and beside it with the prediction's MIP overlaid."""
    k = _factor(viewed.image.shape)
    gray = _plane(viewed.image.max(axis=2), k)
    label = None if viewed.label is None else _plane(viewed.label.max(axis=2), k)
    both = _compose(gray, _plane(viewed.mask.max(axis=2), k), label)
    canvas = Image.new("RGB", (2 * both.width + 8, both.height), (255, 255, 255))
    canvas.paste(Image.fromarray(gray).convert("RGB"), (0, 0))
    canvas.paste(both, (both.width + 8, 0))
    return canvas


@dataclass(frozen=True)
class Source:
    """The volume to segment and its optional reference mask, read and checked."""

    name: str
    image: nib.Nifti1Image
    data: bytes | None  # the upload's bytes (None: a dataset file, segmented from its path)
    path: Path | None
    label: NDArray[np.uint8] | None


def _read_label(image: nib.Nifti1Image, label_image: nib.Nifti1Image) -> NDArray[np.uint8]:
    label = np.asanyarray(label_image.dataobj).reshape(label_image.shape[:3])
    if label.shape != image.shape[:3]:
        raise gr.Error(f"the mask is {_dims(label.shape)} but the volume is {_dims(image.shape[:3])}: choose its mask.")
    values = np.unique(label)
    if not np.isin(values, (0, 1)).all():
        gr.Warning(f"the mask is not binary (values {', '.join(map(str, values[:6]))}…): voxels > 0 count as vessel.")
    return (label > 0).astype(np.uint8)


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape)


def read_source(
    upload: str | None, dataset_key: str | None, mask_upload: str | None, use_dataset_mask: bool, settings: Settings
) -> Source:
    """The chosen volume (an upload wins over a dataset volume) and mask, or a `gr.Error` saying what is wrong."""
    limits = _limits(settings)
    mask_path: Path | None = None
    if upload:
        data = Path(upload).read_bytes()
        try:
            image = read_upload(data, limits)
        except UploadError as exc:
            raise gr.Error(f"volume refused: {exc}") from exc
        source = Source(volume_id(Path(upload)), image, data, None, None)
    elif dataset_key:
        volumes = dataset_volumes(settings)
        if dataset_key not in volumes:
            raise gr.Error(f"no dataset volume '{dataset_key}' in {settings.resolved_data_dir}; reload the page.")
        path, mask_path = volumes[dataset_key]
        source = Source(dataset_key, load_nifti(path), None, path, None)
    else:
        raise gr.Error("choose a volume first: upload a .nii/.nii.gz file or pick one from a dataset.")
    if mask_upload:
        try:
            label_image = read_upload(Path(mask_upload).read_bytes(), limits)
        except UploadError as exc:
            raise gr.Error(f"mask refused: {exc}") from exc
    elif use_dataset_mask and mask_path is not None:
        label_image = load_nifti(mask_path)
    else:
        return source
    return Source(source.name, source.image, source.data, source.path, _read_label(source.image, label_image))


def _limits(settings: Settings) -> UploadLimits:
    return UploadLimits(max_bytes=int(settings.serve_max_upload_mb * 1024 * 1024))


def _segment(segmenter: Segmenter, source: Source, settings: Settings) -> Segmentation:
    if source.path is not None:
        return segmenter.segment_file(source.path)
    return segmenter.segment_bytes(source.data or b"", _limits(settings))


def metric_rows(
    segmenter: Segmenter, image: nib.Nifti1Image, mask: NDArray[Any], label: NDArray[Any]
) -> list[list[str]]:
    """Dice, clDice, NSD and HD95 of the prediction against the reference mask (the run's NSD tolerance)."""
    spacing = tuple(float(z) for z in image.header.get_zooms()[:3])
    tolerance = segmenter.run.cfg.inference.nsd_tolerance_um
    metrics = compute_volume_metrics(mask, label, spacing, nsd_tolerance_um=tolerance)
    return [
        ["Dice", f"{metrics.dice:.4f}"],
        ["clDice", f"{metrics.cldice:.4f}"],
        [f"NSD ({tolerance:g} µm)", f"{metrics.nsd:.4f}"],
        ["HD95 (µm)", f"{metrics.hd95:.2f}"],
    ]


def info_line(model_ref: str, segmenter: Segmenter, result: Segmentation, name: str) -> str:
    """Which model answered (the run behind an alias) and what it found."""
    info = segmenter.info
    patch = _dims(info.patch_size)
    return (
        f"**{model_ref}** → run `{info.run_id[:8]}` · {info.adapter} · {info.engine} · patch {patch} · "
        f"T = {info.temperature:.3f} — `{name}` {_dims(result.mask.shape)} in {result.seconds:.2f} s, "
        f"vessels {100 * result.vessel_fraction:.1f} %"
    )


def segment_handler(settings: Settings, downloads: Path) -> Callable[..., tuple[Any, ...]]:
    """The Segment button: read, segment, render; errors become `gr.Error` toasts with our message."""

    def segment(
        model: str | None,
        engine: Engine,
        upload: str | None,
        dataset_key: str | None,
        mask_upload: str | None,
        use_dataset_mask: bool,
    ) -> tuple[Any, ...]:
        source = read_source(upload, dataset_key, mask_upload, use_dataset_mask, settings)
        model_ref = (model or "champion").strip()
        try:
            segmenter = open_segmenter(model_ref, engine, settings)
            result = _segment(segmenter, source, settings)
        except UploadError as exc:
            raise gr.Error(f"volume refused: {exc}") from exc
        except MinivessError as exc:
            raise gr.Error(str(exc)) from exc
        viewed = Viewed(
            display_scale(np.asanyarray(source.image.dataobj).reshape(source.image.shape[:3])),
            result.mask.astype(np.uint8),
            (np.clip(result.entropy / math.log(2), 0, 1) * 255).astype(np.uint8),
            source.label,
        )
        prune(downloads, CACHE_AGE_S)
        folder = downloads / uuid.uuid4().hex
        folder.mkdir(parents=True)
        mask_file = folder / f"{source.name.replace('/', '_')}_mask.nii.gz"
        mask_file.write_bytes(result.mask_nifti())
        z = viewed.image.shape[2] // 2
        rows = [] if source.label is None else metric_rows(segmenter, source.image, result.mask, source.label)
        return (
            viewed,
            overlay_slice(viewed, z),
            uncertainty_slice(viewed, z),
            mip_image(viewed),
            gr.Slider(minimum=0, maximum=viewed.image.shape[2] - 1, value=z, step=1, interactive=True),
            gr.Dataframe(value=rows, visible=bool(rows)),
            info_line(model_ref, segmenter, result, source.name),
            str(mask_file),
        )

    return segment


def prune(downloads: Path, max_age_s: float) -> None:
    """Delete mask folders older than ``max_age_s`` (Gradio deletes only the copies it made itself)."""
    if not downloads.is_dir():
        return
    cutoff = time.time() - max_age_s
    for folder in downloads.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


def render_slice(viewed: Viewed | None, z: float) -> tuple[Any, Any]:
    """The slider: re-render the two slice panels only (numpy → PIL, no model call)."""
    if viewed is None:
        return None, None
    index = int(min(max(round(z), 0), viewed.image.shape[2] - 1))
    return overlay_slice(viewed, index), uncertainty_slice(viewed, index)


def build_app(settings: Settings, model: str = "champion") -> gr.Blocks:
    """The viewer: model and engine, a volume (upload or dataset) and optional mask, Segment, the views."""
    downloads = gradio_temp_dir(settings) / "masks"
    image_args: dict[str, Any] = {"type": "pil", "format": "png", "interactive": False, "height": 420}
    demo = gr.Blocks(title="minivess viewer", analytics_enabled=False, delete_cache=(900, CACHE_AGE_S))
    with demo:
        viewed = gr.State(None)
        gr.Markdown("## minivess viewer — 3-D microvessel segmentation")
        with gr.Row():
            with gr.Column(scale=1, min_width=300):
                models = gr.Dropdown(label="Model", value=model, allow_custom_value=True, elem_id="model")
                engine = gr.Radio(list(ENGINES), value="auto", label="Engine", elem_id="engine")
                upload = gr.File(label="Volume (.nii / .nii.gz)", file_types=[".nii", ".gz"], elem_id="volume-upload")
                dataset = gr.Dropdown(label="…or a dataset volume", choices=[], value=None, elem_id="dataset")
                mask_upload = gr.File(
                    label="Mask (optional, for metrics)", file_types=[".nii", ".gz"], elem_id="mask-upload"
                )
                use_dataset_mask = gr.Checkbox(True, label="use the dataset volume's seg/ mask", elem_id="use-seg")
                button = gr.Button("Segment", variant="primary", elem_id="segment")
                info = gr.Markdown("Choose a volume and press **Segment**.", elem_id="info")
                metrics = gr.Dataframe(
                    headers=["metric", "value"], label="Metrics vs mask", visible=False, elem_id="metrics"
                )
                download = gr.File(label="Predicted mask (.nii.gz)", interactive=False, elem_id="mask-download")
            with gr.Column(scale=3):
                with gr.Row():
                    overlay = gr.Image(
                        label="Prediction (red; reference outline green)", elem_id="overlay", **image_args
                    )
                    uncertainty = gr.Image(label="Uncertainty (entropy 0 → ln 2)", elem_id="uncertainty", **image_args)
                z = gr.Slider(0, 1, value=0, step=1, label="Z slice", interactive=False, elem_id="z-slider")
                mip = gr.Image(label="MIP along Z: image | prediction", elem_id="mip", **image_args)

        def refresh() -> tuple[Any, Any]:
            choices = model_choices(settings)
            if model not in [value for _, value in choices]:
                choices.insert(0, (model, model))
            return gr.Dropdown(choices=choices, value=model), gr.Dropdown(choices=sorted(dataset_volumes(settings)))

        demo.load(refresh, outputs=[models, dataset])
        upload.upload(lambda: None, outputs=dataset)  # the last chosen volume is the one segmented
        dataset.input(lambda: None, outputs=upload)
        button.click(
            segment_handler(settings, downloads),
            inputs=[models, engine, upload, dataset, mask_upload, use_dataset_mask],
            outputs=[viewed, overlay, uncertainty, mip, z, metrics, info, download],
        )
        z.change(render_slice, [viewed, z], [overlay, uncertainty], show_progress="hidden", trigger_mode="always_last")
    return demo
