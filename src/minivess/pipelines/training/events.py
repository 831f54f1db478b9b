"""Progress events the engine emits; the CLI renders them, tests record them, tracing can observe them."""

from __future__ import annotations

from typing import Protocol


class TrainingObserver(Protocol):
    """Receives progress from a training run. Every method is optional to act on."""

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None: ...

    def epoch_started(self, epoch: int, steps: int) -> None: ...

    def step_finished(self, epoch: int, step: int, loss: float) -> None: ...

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def run_finished(self, run_id: str, status: str, reason: str) -> None: ...


class NullObserver:
    """Ignores every event."""

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        return None

    def epoch_started(self, epoch: int, steps: int) -> None:
        return None

    def step_finished(self, epoch: int, step: int, loss: float) -> None:
        return None

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        return None

    def run_finished(self, run_id: str, status: str, reason: str) -> None:
        return None
