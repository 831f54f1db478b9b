"""A training observer that also traces: run start/end and one event per epoch, linked to the MLflow run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from minivess.observability.api import Tracer, current_trace_id
from minivess.observability.models import Level

logger = logging.getLogger(__name__)


class _Observer(Protocol):
    """The engine's TrainingObserver, restated structurally (observability imports nothing from pipelines)."""

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None: ...

    def epoch_started(self, epoch: int, steps: int) -> None: ...

    def step_finished(self, epoch: int, step: int, loss: float) -> None: ...

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def run_finished(self, run_id: str, status: str, reason: str) -> None: ...


class ForwardingObserver:
    """Forwards every call to ``inner``: observers that wrap another override only the events they act on."""

    def __init__(self, inner: _Observer) -> None:
        self.inner = inner

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        self.inner.run_started(run_id, start_epoch, epochs)

    def epoch_started(self, epoch: int, steps: int) -> None:
        self.inner.epoch_started(epoch, steps)

    def step_finished(self, epoch: int, step: int, loss: float) -> None:
        self.inner.step_finished(epoch, step, loss)

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        self.inner.epoch_finished(epoch, metrics)

    def run_finished(self, run_id: str, status: str, reason: str) -> None:
        self.inner.run_finished(run_id, status, reason)


class TracedTrainingObserver(ForwardingObserver):
    """Forwards every call to `inner` and records trace events under the active observation.

    Steps are not traced (too many); epochs are events carrying their metrics; the run id goes into the
    current trace's metadata (`mlflow_run_id`), so a chat turn links to the MLflow run it started.

    Args:
        inner: The observer the engine would otherwise use (progress bar, stream writer …).
        tracer: From `get_tracer(settings)`.
    """

    def __init__(self, inner: _Observer, tracer: Tracer) -> None:
        super().__init__(inner)
        self.tracer = tracer

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        self.inner.run_started(run_id, start_epoch, epochs)
        self.tracer.update_trace(metadata={"mlflow_run_id": run_id})
        self.tracer.event(
            "training started", metadata={"mlflow_run_id": run_id, "start_epoch": start_epoch, "epochs": epochs}
        )

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        self.inner.epoch_finished(epoch, metrics)
        self.tracer.event("epoch", metadata={"epoch": epoch, **metrics})

    def run_finished(self, run_id: str, status: str, reason: str) -> None:
        self.inner.run_finished(run_id, status, reason)
        level: Level | None = None if status == "FINISHED" else "WARNING"
        self.tracer.event(
            "training finished", metadata={"mlflow_run_id": run_id, "status": status, "reason": reason}, level=level
        )


R = TypeVar("R")


def traced_training(
    tracer: Tracer,
    inner: _Observer,
    start: Callable[[_Observer, dict[str, str]], R],
    *,
    name: str,
    summary: dict[str, Any],
    trace_tag: str,
    describe: Callable[[R], dict[str, Any]],
) -> R:
    """Run a training entry point inside a ``chain`` observation, with a tracing observer.

    The pipelines import no tracing: the caller (a tool, the CLI) wraps them with this.

    Args:
        tracer: From `get_tracer(settings)`.
        inner: The caller's own observer (progress).
        start: Calls the pipeline with the observer to use and the MLflow tags to add.
        name: Observation name (``train``, ``train.resume``).
        summary: The observation's input.
        trace_tag: The MLflow tag that links the run to the trace (``minivess.trace_id``).
        describe: The observation's output from the pipeline's result.

    Returns:
        What ``start`` returned.
    """
    with tracer.observe(name, as_type="chain", input=summary) as span:
        trace_id = current_trace_id()
        result = start(TracedTrainingObserver(inner, tracer), {trace_tag: trace_id} if trace_id else {})
        described = describe(result)
        span.update(output=described, metadata={"mlflow_run_id": described.get("run_id")})
        return result
