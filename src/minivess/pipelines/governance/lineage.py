"""Lineage: OpenLineage run events for every pipeline step, and the walk from a model back to raw volumes.

Events go to ``HOME/lineage/events.jsonl`` (one JSON event a line, appended under a lock) or, when
``settings.openlineage_url`` is set, to that OpenLineage HTTP endpoint (e.g. Marquez). Emitting never breaks the
work: a transport failure logs one warning. ``openlineage`` is imported only when an event is emitted.
"""

from __future__ import annotations

import functools
import json
import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from minivess.errors import MinivessError
from minivess.fileio import exclusive
from minivess.pipelines.tracking import naming
from minivess.settings import Settings

logger = logging.getLogger(__name__)

NAMESPACE = "minivess"
PRODUCER = "https://github.com/minivess/minivess"
EVENTS_FILE = "events.jsonl"
_warned = False
P = ParamSpec("P")
R = TypeVar("R")


def events_path(settings: Settings) -> Path:
    return settings.home_dir / "lineage" / EVENTS_FILE


def dataset_name(dataset: str, version: str | None) -> str:
    """The OpenLineage dataset name of a dataset version: ``dataset/<name>@<version>``."""
    return f"dataset/{dataset}@{version}" if version else f"dataset/{dataset}"


@dataclass
class JobRun:
    """One OpenLineage run in progress: add outputs and run facets before it completes."""

    settings: Settings
    job: str
    inputs: list[str]
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _outputs: list[str] = field(default_factory=list)
    facets: dict[str, Any] = field(default_factory=dict)

    def outputs(self, *names: str) -> None:
        self._outputs.extend(n for n in names if n)

    def link(self, *, mlflow_run_id: str | None = None, trace_id: str | None = None, **extra: Any) -> None:
        """Record the MLflow run and trace (and any small facts) as a custom run facet."""
        self.facets.update({k: v for k, v in {"mlflow_run_id": mlflow_run_id, "trace_id": trace_id, **extra}.items()
                            if v is not None})  # fmt: skip


@contextmanager
def job_run(settings: Settings, job: str, inputs: list[str] | None = None) -> Iterator[JobRun]:
    """START now, then COMPLETE — or FAIL with the error, which is re-raised."""
    run = JobRun(settings, job, list(inputs or []))
    emit(run, "START")
    try:
        yield run
    except BaseException as exc:
        emit(run, "FAIL", error=exc)
        raise
    emit(run, "COMPLETE")


def job(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a pipeline entry point ``f(ref_or_spec, settings, ...)`` so each call is one lineage run.

    The input is ``run/<first argument>`` when it is a string (a run reference); a result with a ``run_id``
    (or ``search_id``) is linked as the MLflow run (or recorded as an output).
    """

    def wrap(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            settings = next((a for a in [*args, *kwargs.values()] if isinstance(a, Settings)), None)
            if settings is None:
                return func(*args, **kwargs)
            inputs = [f"run/{args[0]}"] if args and isinstance(args[0], str) else []
            with job_run(settings, name, inputs=inputs) as run:
                result = func(*args, **kwargs)
                run_id = getattr(result, "run_id", None) or getattr(result, "parent_run_id", None)
                run.link(mlflow_run_id=run_id if isinstance(run_id, str) else None)
                search_id = getattr(result, "search_id", None)
                if isinstance(search_id, str):
                    run.outputs(f"search/{search_id}")
                return result

        return inner

    return wrap


def emit(run: JobRun, state: str, error: BaseException | None = None) -> None:
    """Send one event; never raises (one warning per process on a transport failure)."""
    global _warned
    try:
        event = _event(run, state, error)
        if run.settings.openlineage_url:
            from openlineage.client import OpenLineageClient
            from openlineage.client.transport.http import HttpConfig, HttpTransport

            OpenLineageClient(transport=HttpTransport(HttpConfig(url=run.settings.openlineage_url))).emit(event)
        else:
            from openlineage.client.serde import Serde

            path = events_path(run.settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            line = Serde.to_json(event).replace("\n", " ") + "\n"
            with exclusive(path), path.open("a", encoding="utf-8") as handle:
                handle.write(line)
    except Exception as exc:
        if not _warned:
            _warned = True
            logger.warning("could not emit an OpenLineage event for %s: %s", run.job, exc)


def _event(run: JobRun, state: str, error: BaseException | None) -> Any:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run

    facets: dict[str, Any] = {}
    if run.facets:
        facets["minivess"] = _facet_class()(
            mlflow_run_id=run.facets.get("mlflow_run_id"),
            trace_id=run.facets.get("trace_id"),
            extra={k: v for k, v in run.facets.items() if k not in {"mlflow_run_id", "trace_id"}},
        )
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=f"{type(error).__name__}: {error}",
            programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error))[-4000:],
        )
    return RunEvent(
        eventType=getattr(RunState, state),
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=run.run_id, facets=facets),
        job=Job(namespace=NAMESPACE, name=run.job),
        producer=PRODUCER,
        inputs=[InputDataset(namespace=NAMESPACE, name=n) for n in run.inputs],
        outputs=[OutputDataset(namespace=NAMESPACE, name=n) for n in run._outputs],
    )


_FACET: Any = None


def _facet_class() -> Any:
    """The custom ``minivess`` run facet (MLflow run id, trace id, small extras), built on first use."""
    global _FACET
    if _FACET is None:
        import attr
        from openlineage.client.generated.base import RunFacet

        @attr.define
        class MinivessRunFacet(RunFacet):
            mlflow_run_id: str | None = attr.field(default=None)
            trace_id: str | None = attr.field(default=None)
            extra: dict[str, Any] = attr.field(factory=dict)

            @staticmethod
            def _get_schema() -> str:
                return f"{PRODUCER}/spec/facets/MinivessRunFacet.json"

        _FACET = MinivessRunFacet
    return _FACET


def read_events(settings: Settings) -> list[dict[str, Any]]:
    """Every event of the file transport (empty when none were written)."""
    path = events_path(settings)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---- the walk ---------------------------------------------------------------------------------------------------


@dataclass
class LineageNode:
    """One node of the lineage tree."""

    kind: str  # model | run | dataset | reviews | volumes | volume
    label: str
    details: dict[str, Any] = field(default_factory=dict)
    children: list[LineageNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "details": self.details,
                "children": [c.to_dict() for c in self.children]}  # fmt: skip


def walk(settings: Settings, ref: str) -> LineageNode:
    """champion/challenger alias or run ref → run → dataset version → reviews → parent version → … → raw volumes.

    Raises:
        TrackingError: the reference matches no run (one line).
    """
    from minivess.pipelines.governance import versions
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import alias_ref, resolve_model_ref

    client = client_for(settings.tracking_uri)
    run_id = resolve_model_ref(client, ref)
    run = client.get_run(run_id)
    tags = run.data.tags
    manifest_version = tags.get(naming.TAG_DATA_VERSION)
    dvc_version = tags.get(naming.TAG_DVC_VERSION)
    run_node = LineageNode(
        "run",
        f"run {run.info.run_name or run_id} ({run_id[:8]})",
        {
            "run_id": run_id,
            "status": run.info.status,
            "data_version": manifest_version,
            "dvc_version": dvc_version,
            "trace_id": tags.get(naming.TAG_TRACE_ID),
        },
    )
    history = versions.list_versions(settings)
    by_version = {v.version: v for v in history}
    by_manifest = {v.manifest_version: v for v in history}
    record = by_version.get(dvc_version or "") or by_manifest.get(manifest_version or "")
    run_node.children.append(_dataset_node(record, manifest_version, by_version, by_manifest, tags, depth=0))
    if alias_ref(ref):
        return LineageNode("model", ref, {"run_id": run_id}, [run_node])
    return run_node


def _dataset_node(
    record: Any, manifest_version: str | None, by_version: dict[str, Any], by_manifest: dict[str, Any],
    tags: dict[str, str] | None, depth: int,
) -> LineageNode:  # fmt: skip
    if record is None:
        node = LineageNode("dataset", f"dataset @{manifest_version} (untracked by DVC)",
                           {"manifest_version": manifest_version})  # fmt: skip
        return node
    node = LineageNode(
        "dataset",
        f"dataset {record.dataset}@{record.version} ({record.source})",
        record.model_dump(
            include={"version", "manifest_version", "source", "path", "files", "bytes", "parent_version"}
        ),
    )
    folder = Path(record.path)
    lineage_file = folder / naming.LINEAGE_FILE
    if lineage_file.is_file():
        facts = json.loads(lineage_file.read_text())
        ids = facts.get("review_ids") or []
        node.children.append(LineageNode("reviews", f"{len(ids)} review(s), Label Studio project "
                                         f"{facts.get('label_studio_project')}", {"review_ids": ids}))  # fmt: skip
        parent_manifest = facts.get("parent_version")
        parent = by_version.get(record.parent_version or "") or by_manifest.get(parent_manifest or "")
        if depth < 20:
            node.children.append(_dataset_node(parent, parent_manifest, by_version, by_manifest, None, depth + 1))
        return node
    node.children.append(_volumes_node(folder))
    return node


def _volumes_node(folder: Path) -> LineageNode:
    raw = folder / "raw"
    files = sorted(p.name for p in raw.iterdir()) if raw.is_dir() else []
    return LineageNode("volumes", f"{len(files)} raw volume(s) in {raw}",
                       {"files": files}, [LineageNode("volume", f) for f in files])  # fmt: skip


def render_text(node: LineageNode, indent: int = 0) -> str:
    """The tree as indented text."""
    lines = ["  " * indent + ("└─ " if indent else "") + node.label]
    for child in node.children:
        lines.append(render_text(child, indent + 1))
    return "\n".join(lines)


def warn_reset() -> None:
    """Forget that a warning was logged (tests)."""
    global _warned
    _warned = False


__all__ = ["JobRun", "LineageNode", "MinivessError", "dataset_name", "emit", "job_run", "read_events",
           "render_text", "walk"]  # fmt: skip
