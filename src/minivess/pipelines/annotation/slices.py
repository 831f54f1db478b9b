"""2-D review material from 3-D volumes: slice PNGs and Label Studio brush masks (RLE), both ways.

A slice is ``volume[..., index]`` along ``axis`` of the file's own array (no reorientation), shown with rows =
the first remaining axis. Images are intensity-normalised (0.5–99.5 percentiles of the slice) to 8-bit PNG and
embedded in the task as a data URI, so the server needs no file storage. Masks travel as Label Studio brush RLE
(``label_studio_sdk.converter.brush``): RGBA, the mask in every channel (255 = vessel).
"""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

FROM_NAME: Final = "mask"
TO_NAME: Final = "image"
LABEL: Final = "vessel"


def take_slice(volume: NDArray[Any], axis: int, index: int) -> NDArray[Any]:
    """The 2-D slice ``index`` along ``axis`` of a 3-D array.

    Raises:
        ValueError: Not 3-D, or the index is outside the axis.
    """
    if volume.ndim != 3:
        raise ValueError(f"expected a 3-D volume, got shape {volume.shape}.")
    if not 0 <= index < volume.shape[axis]:
        raise ValueError(f"slice {index} is outside axis {axis} of a volume of shape {volume.shape}.")
    return np.asarray(np.take(volume, index, axis=axis))


def put_slice(volume: NDArray[Any], axis: int, index: int, plane: NDArray[Any]) -> None:
    """Write a 2-D plane back into ``volume`` in place (the inverse of :func:`take_slice`)."""
    target = np.moveaxis(volume, axis, 0)
    if target[index].shape != plane.shape:
        raise ValueError(f"plane shape {plane.shape} does not fit slice shape {target[index].shape}.")
    target[index] = plane


def slice_png(plane: NDArray[Any]) -> bytes:
    """An 8-bit grayscale PNG of a slice, intensity-normalised to its 0.5–99.5 percentiles."""
    from PIL import Image

    values = plane.astype(np.float64)
    low, high = np.percentile(values, [0.5, 99.5]) if values.size else (0.0, 1.0)
    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(values)
    buffer = io.BytesIO()
    Image.fromarray((scaled * 255).round().astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def mask_to_rle(mask: NDArray[Any]) -> list[int]:
    """Label Studio brush RLE of a 2-D binary mask."""
    from label_studio_sdk.converter.brush import mask2rle

    return [int(v) for v in mask2rle((np.asarray(mask) > 0).astype(np.uint8) * 255)]  # type: ignore[no-untyped-call]


def rle_to_mask(rle: list[int], height: int, width: int) -> NDArray[Any]:
    """Decode a brush RLE of an ``height`` × ``width`` image into a boolean mask (alpha channel > 127).

    Raises:
        ValueError: The RLE does not decode to height × width RGBA pixels.
    """
    from label_studio_sdk.converter.brush import decode_rle

    flat = np.asarray(decode_rle(rle), dtype=np.uint8)
    if flat.size != height * width * 4:
        raise ValueError(
            f"brush RLE decodes to {flat.size} values, expected {height}×{width}×4 = {height * width * 4}."
        )
    return np.asarray(flat.reshape(height, width, 4)[:, :, 3] > 127)


def brush_result(mask: NDArray[Any]) -> dict[str, Any]:
    """One brush region (``result`` item) holding a whole 2-D mask."""
    height, width = mask.shape
    return {
        "id": uuid.uuid4().hex[:10],
        "type": "brushlabels",
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "original_width": int(width),
        "original_height": int(height),
        "image_rotation": 0,
        "value": {"format": "rle", "rle": mask_to_rle(mask), "brushlabels": [LABEL]},
    }


def mask_from_result(result: list[dict[str, Any]], height: int, width: int) -> NDArray[Any]:
    """The union of every vessel brush region of an annotation's ``result`` (empty list → empty mask)."""
    mask = np.zeros((height, width), dtype=bool)
    for region in result:
        value = region.get("value", {})
        if region.get("type") != "brushlabels" or value.get("format") != "rle":
            continue
        mask |= rle_to_mask(list(value["rle"]), height, width)
    return mask
