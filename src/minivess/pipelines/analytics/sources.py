"""What a tracking store hands the sync: row types, the reader protocol and source selection."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlparse

SourceKind = Literal["sqlite", "client"]

# (run_id, experiment_id, run_name, status, lifecycle_stage, user_id, start_ms, end_ms, artifact_uri)
RunRow = tuple[str, str, str | None, str, str, str | None, int | None, int | None, str | None]
KeyValueRow = tuple[str, str, str | None]  # (run_id, key, value): params and tags
MetricRow = tuple[str, str, int, int, float | None]  # (run_id, key, step, timestamp_ms, value; None = NaN)
# (experiment_id, name, artifact_location, lifecycle_stage, creation_ms, last_update_ms)
ExperimentRow = tuple[str, str, str | None, str | None, int | None, int | None]
RegisteredModelRow = tuple[str, str | None, int | None, int | None]  # (name, description, created, updated)
# (name, version, run_id, source, status, stage, description, creation_ms, last_updated_ms)
ModelVersionRow = tuple[str, int, str | None, str | None, str | None, str | None, str | None, int | None, int | None]
AliasRow = tuple[str, str, int]  # (name, alias, version)


@dataclass
class Catalog:
    """Small, always fully refreshed parts of the store: experiments and the model registry."""

    experiments: list[ExperimentRow] = field(default_factory=list)
    registered_models: list[RegisteredModelRow] = field(default_factory=list)
    model_versions: list[ModelVersionRow] = field(default_factory=list)
    aliases: list[AliasRow] = field(default_factory=list)


@dataclass
class RunBatch:
    """Everything about a set of runs; metrics arrive in chunks so large stores stream."""

    runs: list[RunRow]
    params: list[KeyValueRow]
    tags: list[KeyValueRow]
    metric_chunks: Iterable[list[MetricRow]]


class StoreReader(Protocol):
    """A read session on a tracking store."""

    def fingerprints(self) -> dict[str, str]:
        """Run id → a string that changes whenever the run's data changes."""
        ...

    def catalog(self) -> Catalog:
        """Experiments and the model registry."""
        ...

    def runs(self, run_ids: Collection[str] | None) -> RunBatch:
        """Full data of the given runs (None: every run)."""
        ...


class Source(Protocol):
    """A tracking store the warehouse syncs from."""

    kind: SourceKind
    source_id: str

    def signature(self) -> str | None:
        """A cheap whole-store signature (None when the store cannot tell cheaply)."""
        ...

    def reader(self) -> AbstractContextManager[StoreReader]:
        """Open a read session."""
        ...


def sqlite_path_from_uri(uri: str) -> Path | None:
    """The database file of a ``sqlite:///…`` tracking URI, or None for any other URI.

    Args:
        uri: An MLflow tracking URI.

    Returns:
        The absolute path of the SQLite file (``sqlite:///rel`` is relative to the cwd).
    """
    if not uri.startswith("sqlite:"):
        return None
    parsed = urlparse(uri)
    raw = unquote(parsed.path)
    if not raw or raw in ("/", "/:memory:"):
        return None
    # sqlite:///rel.db parses to "/rel.db" (relative to the cwd); sqlite:////abs.db to "//abs.db".
    return Path(raw[1:]).expanduser().resolve()


def digest(parts: Iterable[object]) -> str:
    """A short stable hash of a sequence of values."""
    h = hashlib.blake2b(digest_size=12)
    for part in parts:
        h.update(repr(part).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def tag_digests(rows: Iterable[KeyValueRow]) -> dict[str, str]:
    """Per-run hash of its tags (rows in any order)."""
    by_run: dict[str, list[tuple[str, str]]] = {}
    for run_id, key, value in rows:
        by_run.setdefault(run_id, []).append((key, "" if value is None else value))
    return {run_id: digest(sorted(items)) for run_id, items in by_run.items()}


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    """Split a list into lists of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
