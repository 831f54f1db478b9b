"""Every tool the agents may call, in the catalog's order (which worker offers which is in `minivess.catalog`).

The tools are the `Tool` objects defined in the tool modules listed here; adding a tool to one of them and its
name to `catalog.WORKER_TOOLS` is all it takes. A tool in a module but not in the catalog (or the reverse) is an
error at import, so a tool can never be offered to no worker or promised to a worker without existing.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Final

from minivess import catalog
from minivess.tools import analytics, annotation, data, governance, search, training, uncertainty
from minivess.tools.base import Tool, ToolRegistry

TOOL_MODULES: Final[tuple[ModuleType, ...]] = (training, data, uncertainty, annotation, search, analytics, governance)


def _collect() -> list[Tool[Any, Any]]:
    defined = {item.name: item for module in TOOL_MODULES for item in vars(module).values() if isinstance(item, Tool)}
    catalogued = [name for names in catalog.WORKER_TOOLS.values() for name in names]
    missing, unlisted = sorted(set(catalogued) - set(defined)), sorted(set(defined) - set(catalogued))
    if missing or unlisted:
        raise RuntimeError(
            f"tools and catalog.WORKER_TOOLS disagree: catalogued but not defined {missing}, "
            f"defined but offered to no worker {unlisted}"
        )
    return [defined[name] for name in catalogued]


ALL_TOOLS: Final[list[Tool[Any, Any]]] = _collect()
REGISTRY: Final = ToolRegistry(ALL_TOOLS)
