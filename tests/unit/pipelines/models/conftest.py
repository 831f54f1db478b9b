"""Model-adapter tests start from a fixed random state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    """Seed torch so weight initialisation and inputs are the same on every run."""
    torch.manual_seed(0)
    yield
