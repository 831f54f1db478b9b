"""PNG figures: maximum-intensity projections and learning curves (matplotlib, Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

from minivess.fileio import write_bytes_atomic


def _save(fig: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def mip(volume: NDArray[Any], axis: int = 2) -> NDArray[Any]:
    """Maximum-intensity projection along an axis (Z by default)."""
    return np.asarray(np.asarray(volume).max(axis=axis))


def mip_png(path: Path, image: NDArray[Any], mask: NDArray[Any] | None = None, title: str = "") -> Path:
    """Image MIP, and beside it the mask MIP when a mask is given."""
    panels = 2 if mask is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 4), squeeze=False)
    axes[0, 0].imshow(mip(image).T, cmap="gray", origin="lower")
    axes[0, 0].set_title("image MIP")
    if mask is not None:
        axes[0, 1].imshow(mip(mask).T, cmap="gray", origin="lower", vmin=0, vmax=1)
        axes[0, 1].set_title("mask MIP")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title)
    return _save(fig, path)


def prediction_png(path: Path, image: NDArray[Any], target: NDArray[Any], pred: NDArray[Any], title: str = "") -> Path:
    """Image MIP, mask MIP, prediction MIP and an overlay (green = agree, red = false +, blue = missed)."""
    target_mip, pred_mip = mip(target).astype(bool), mip(pred).astype(bool)
    overlay = np.zeros((*target_mip.shape, 3), dtype=np.float32)
    overlay[target_mip & pred_mip] = (0.1, 0.8, 0.1)
    overlay[~target_mip & pred_mip] = (0.9, 0.1, 0.1)
    overlay[target_mip & ~pred_mip] = (0.2, 0.4, 1.0)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    panels = [
        (mip(image), "image MIP", "gray"),
        (target_mip, "mask", "gray"),
        (pred_mip, "prediction", "gray"),
    ]
    for ax, (data, name, cmap) in zip(axes[:3], panels, strict=True):
        ax.imshow(np.asarray(data, dtype=np.float32).T, cmap=cmap, origin="lower")
        ax.set_title(name)
    axes[3].imshow(overlay.transpose(1, 0, 2), origin="lower")
    axes[3].set_title("overlay: agree / false + / missed")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title)
    return _save(fig, path)


def curves_png(path: Path, series: Mapping[str, Sequence[tuple[int, float]]], title: str = "") -> Path:
    """One line per metric: (step, value) pairs; losses on the left axis, scores on the right."""
    fig, ax = plt.subplots(figsize=(7, 4))
    right = ax.twinx()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, points) in enumerate(series.items()):
        if not points:
            continue
        steps, values = zip(*sorted(points), strict=True)
        target = ax if "loss" in name else right
        style = "--" if "loss" in name else "-"
        target.plot(steps, values, marker="o", label=name, linestyle=style, color=colours[index % len(colours)])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    right.set_ylabel("score")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    ax.legend(handles, labels, loc="best", fontsize=8)
    ax.set_title(title)
    return _save(fig, path)
