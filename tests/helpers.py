"""Test helpers: hand-made NIfTI volumes (independent of the synthetic generator)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np


def tube_volume(shape: tuple[int, int, int] = (32, 32, 16), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy image with one bright tube along X, and its binary mask."""
    rng = np.random.default_rng(seed)
    _, y, z = np.meshgrid(*(np.arange(s) for s in shape), indexing="ij")
    cy, cz = shape[1] / 2 + rng.uniform(-3, 3), shape[2] / 2
    mask = ((y - cy) ** 2 + (z - cz) ** 2 <= 9).astype(np.uint8)
    image = (mask * 100.0 + rng.normal(10.0, 5.0, size=shape)).astype(np.float32)
    return image, mask


def write_pair(
    root: Path,
    vid: str,
    image: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, float, float] = (1.0, 1.0, 2.0),
    mask_spacing: tuple[float, float, float] | None = None,
) -> None:
    (root / "raw").mkdir(parents=True, exist_ok=True)
    (root / "seg").mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(image, np.diag([*spacing, 1.0])), root / "raw" / f"{vid}.nii.gz")
    nib.save(nib.Nifti1Image(mask, np.diag([*(mask_spacing or spacing), 1.0])), root / "seg" / f"{vid}.nii.gz")


def write_tube_dataset(root: Path, n: int = 4, shape: tuple[int, int, int] = (32, 32, 16)) -> Path:
    for i in range(n):
        image, mask = tube_volume(shape, seed=i)
        write_pair(root, f"vol{i:02d}", image, mask)
    return root


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound (a stopped server released it)."""
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
