"""Read any MLflow tracking store through MlflowClient, page by page."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics.sources import (
    Catalog,
    KeyValueRow,
    MetricRow,
    RunBatch,
    RunRow,
    SourceKind,
    StoreReader,
    digest,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

logger = logging.getLogger(__name__)

_PAGE = 1000


def _metric_value(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class ClientReader:
    """A read session over MlflowClient; runs found by ``fingerprints`` are kept for ``runs``."""

    def __init__(self, client: MlflowClient) -> None:
        """Wrap a client.

        Args:
            client: An MlflowClient bound to the tracking URI.
        """
        self._client = client
        self._runs: dict[str, Run] = {}
        self._experiment_ids: list[str] | None = None

    def _experiments(self) -> list[Any]:
        from mlflow.entities import ViewType

        found: list[Any] = []
        token: str | None = None
        while True:
            page = self._client.search_experiments(view_type=ViewType.ALL, max_results=_PAGE, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def _search_all_runs(self) -> dict[str, Run]:
        from mlflow.entities import ViewType

        if self._experiment_ids is None:
            self._experiment_ids = [e.experiment_id for e in self._experiments()]
        runs: dict[str, Run] = {}
        for start in range(0, len(self._experiment_ids), 100):
            ids = self._experiment_ids[start : start + 100]
            token: str | None = None
            while True:
                page = self._client.search_runs(ids, run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token)
                runs.update((run.info.run_id, run) for run in page)
                token = page.token
                if not token:
                    break
        return runs

    def fingerprints(self) -> dict[str, str]:
        """Run id → status, end time, lifecycle, name, latest metrics, param count and tags."""
        self._runs = self._search_all_runs()
        result: dict[str, str] = {}
        for run_id, run in self._runs.items():
            info, data = run.info, run.data
            # RunData keeps the latest Metric objects (step, timestamp) privately; values alone would miss
            # a new epoch that repeats a value, so use them when present.
            objs = getattr(data, "_metric_objs", None)
            latest = (
                sorted((m.key, m.step, m.timestamp, repr(m.value)) for m in objs)
                if objs is not None
                else sorted((k, repr(v)) for k, v in data.metrics.items())
            )
            parts = (info.status, info.end_time, info.lifecycle_stage, info.run_name, info.experiment_id)
            tags = digest(sorted(data.tags.items()))
            result[run_id] = "|".join(str(p) for p in parts) + f"|{digest(latest)}|{len(data.params)}|{tags}"
        return result

    def catalog(self) -> Catalog:
        """Experiments, registered models (with their aliases) and all model versions."""
        experiments = [
            (
                e.experiment_id,
                e.name,
                e.artifact_location,
                e.lifecycle_stage,
                e.creation_time,
                e.last_update_time,
            )
            for e in self._experiments()
        ]
        catalog = Catalog(experiments=experiments)
        token: str | None = None
        while True:
            page = self._client.search_registered_models(max_results=100, page_token=token)
            for model in page:
                catalog.registered_models.append(
                    (model.name, model.description, model.creation_timestamp, model.last_updated_timestamp)
                )
                catalog.aliases.extend((model.name, alias, int(v)) for alias, v in model.aliases.items())
            token = page.token
            if not token:
                break
        token = None
        while True:
            versions = self._client.search_model_versions(max_results=1000, page_token=token)
            catalog.model_versions.extend(
                (v.name, int(v.version), v.run_id, v.source, v.status, v.current_stage, v.description,
                 v.creation_timestamp, v.last_updated_timestamp)
                for v in versions
            )  # fmt: skip
            token = versions.token
            if not token:
                return catalog

    def runs(self, run_ids: Collection[str] | None) -> RunBatch:
        """Runs from the last search; each metric's history through ``get_metric_history``."""
        if not self._runs:
            self._runs = self._search_all_runs()
        chosen = list(self._runs.values()) if run_ids is None else [self._runs[i] for i in run_ids]
        runs: list[RunRow] = []
        params: list[KeyValueRow] = []
        tags: list[KeyValueRow] = []
        for run in chosen:
            info = run.info
            runs.append(
                (info.run_id, info.experiment_id, info.run_name, info.status, info.lifecycle_stage,
                 info.user_id, info.start_time, info.end_time, info.artifact_uri)
            )  # fmt: skip
            params.extend((info.run_id, k, v) for k, v in run.data.params.items())
            tags.extend((info.run_id, k, v) for k, v in run.data.tags.items())
        return RunBatch(runs=runs, params=params, tags=tags, metric_chunks=self._histories(chosen))

    def _histories(self, chosen: list[Run]) -> Iterator[list[MetricRow]]:
        chunk: list[MetricRow] = []
        for run in chosen:
            run_id = run.info.run_id
            for key in sorted(run.data.metrics):
                history = self._client.get_metric_history(run_id, key)
                chunk.extend((run_id, m.key, m.step, m.timestamp, _metric_value(m.value)) for m in history)
            if len(chunk) >= 100_000:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


class ClientSource:
    """Any tracking server (or local store) through ``MlflowClient``; no cheap change signature."""

    kind: SourceKind = "client"

    def __init__(self, tracking_uri: str) -> None:
        """Bind to a tracking URI.

        Args:
            tracking_uri: Any URI MLflow accepts (http(s)://, sqlite:///, databricks …).
        """
        self.tracking_uri = tracking_uri
        self.source_id = f"client:{tracking_uri}"

    def signature(self) -> str | None:
        """None: a remote store has no cheap signature; auto-sync then goes by the age of the last sync."""
        return None

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """A client session; MLflow errors become AnalyticsError."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            yield ClientReader(MlflowClient(tracking_uri=self.tracking_uri))
        except MlflowException as exc:
            raise AnalyticsError(
                f"The MLflow tracking store {self.tracking_uri} could not be read: {exc.message}. "
                "Check MINIVESS_MLFLOW_TRACKING_URI and that the server is up."
            ) from exc
