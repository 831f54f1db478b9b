"""The explicit registry of model adapters (no filesystem scanning) and option descriptions for the CLI."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Final

from pydantic_core import PydanticUndefined

from minivess import catalog
from minivess.errors import ConfigError
from minivess.pipelines.models.base import ModelAdapter, describe_allowed

logger = logging.getLogger(__name__)


def _load_adapter(entry: catalog.ModelEntry) -> ModelAdapter:
    """Instantiate the adapter a catalog entry names (``module:Class``)."""
    module_name, _, class_name = entry.adapter.partition(":")
    adapter: ModelAdapter = getattr(importlib.import_module(module_name), class_name)()
    if adapter.name != entry.name:
        raise ValueError(f"catalog entry {entry.name!r} names adapter {entry.adapter} whose name is {adapter.name!r}")
    return adapter


# Adding a model: write pipelines/models/<name>.py implementing ModelAdapter and add its entry to catalog.MODELS.
ADAPTERS: Final[dict[str, ModelAdapter]] = {name: _load_adapter(entry) for name, entry in catalog.MODELS.items()}

DEFAULT_MODEL: Final = catalog.DEFAULT_MODEL


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
