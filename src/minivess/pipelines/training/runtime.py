"""Device, mixed precision and seeding decisions for training and inference."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

from minivess.errors import ConfigError

logger = logging.getLogger(__name__)

AmpMode = Literal["auto", "off", "bf16", "fp16"]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda → mps → cpu; an explicit device that is absent is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device '{name}'; use auto, cpu, cuda, cuda:N or mps.") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' needs CUDA, which is not available here; use the device auto or cpu.")
    if device.type == "cuda" and device.index is not None and device.index >= (count := torch.cuda.device_count()):
        raise ConfigError(
            f"device '{name}' does not exist: this machine has {count} GPU(s), cuda:0 to cuda:{count - 1}."
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device '{name}' needs MPS, which is not available here; use the device auto or cpu.")
    return device


def resolve_amp(mode: AmpMode, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for full precision.

    ``auto`` = bf16 on CUDA (fp16 where bf16 is absent), off elsewhere.
    """
    if mode == "off":
        return None
    if mode == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if mode == "fp16" and device.type == "cpu":
        raise ConfigError("trainer.amp=fp16 is not supported on CPU; use amp=off or bf16.")
    return torch.bfloat16 if mode == "bf16" else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; optionally ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
