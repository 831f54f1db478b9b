"""SOUP (software of unknown provenance, IEC 62304 5.3.3 / 8.1.2): every third-party package in the environment."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata

from pydantic import BaseModel

OWN_DISTRIBUTION = "minivess"


class SoupItem(BaseModel):
    """One installed distribution: its name, version and declared licence (None when it declares none)."""

    name: str
    version: str
    license: str | None = None


def soup_list() -> list[SoupItem]:
    """Every installed third-party distribution, sorted by name (our own package left out)."""
    items: dict[str, SoupItem] = {}
    for dist in metadata.distributions():
        name = _field(dist, "Name")
        if not name or name.lower() == OWN_DISTRIBUTION:
            continue
        key = name.lower().replace("_", "-")
        items.setdefault(key, SoupItem(name=name, version=dist.version, license=_licence(dist)))
    return [items[key] for key in sorted(items)]


def _licence(dist: metadata.Distribution) -> str | None:
    expression = _field(dist, "License-Expression")
    if expression:
        return expression
    text = _field(dist, "License")
    if text and len(text) <= 80 and "\n" not in text:
        return text
    classifiers = [c.split("::")[-1].strip() for c in dist.metadata.get_all("Classifier") or [] if "License" in c]
    return classifiers[0] if classifiers else None


def _field(dist: metadata.Distribution, key: str) -> str | None:
    values = dist.metadata.get_all(key)
    return str(values[0]) if values else None


@lru_cache(maxsize=1)
def lockfile_sha256() -> str:
    """SHA-256 of the environment's ``name==version`` lines: the lock of what actually ran (no lockfile ships)."""
    lines = sorted(f"{item.name.lower()}=={item.version}" for item in soup_list())
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
