"""The explicit registry of model adapters (no filesystem scanning) and option descriptions for the CLI."""

from __future__ import annotations

import logging
from typing import Any, Final

from pydantic_core import PydanticUndefined

from minivess.errors import ConfigError
from minivess.pipelines.models.base import ModelAdapter, describe_allowed
from minivess.pipelines.models.dynunet import DynUNetAdapter
from minivess.pipelines.models.segresnet import SegResNetAdapter
from minivess.pipelines.models.swinunetr import SwinUNETRAdapter

logger = logging.getLogger(__name__)

# Adding a model: write pipelines/models/<name>.py implementing ModelAdapter and list it here.
ADAPTERS: Final[dict[str, ModelAdapter]] = {
    adapter.name: adapter for adapter in (DynUNetAdapter(), SegResNetAdapter(), SwinUNETRAdapter())
}

DEFAULT_MODEL: Final = "segresnet"


def get_adapter(name: str) -> ModelAdapter:
    """Look up an adapter by its registry key.

    Args:
        name: e.g. ``"segresnet"``; case and surrounding spaces are ignored.

    Returns:
        The adapter.

    Raises:
        ConfigError: for an unknown name, listing the known ones.
    """
    key = str(name).strip().lower()
    adapter = ADAPTERS.get(key)
    if adapter is None:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(ADAPTERS))}")
    return adapter


def list_adapters() -> list[ModelAdapter]:
    """All registered adapters, sorted by name."""
    return [ADAPTERS[name] for name in sorted(ADAPTERS)]


def describe_options(adapter: ModelAdapter) -> list[dict[str, Any]]:
    """Describe an adapter's options for ``minivess models list``.

    Args:
        adapter: A registered adapter.

    Returns:
        One dict per option, in declaration order, with keys ``name``, ``type`` (readable, with bounds),
        ``default`` (tuples as lists, so the result is JSON-ready) and ``description``.
    """
    rows: list[dict[str, Any]] = []
    for field_name, field in adapter.options_model.model_fields.items():
        default = None if field.default is PydanticUndefined else field.default
        rows.append(
            {
                "name": field_name,
                "type": describe_allowed(field),
                "default": list(default) if isinstance(default, tuple) else default,
                "description": field.description or "",
            }
        )
    return rows
