"""A search observer that also traces: the planner's reasoning, rounds and trial outcomes as trace events."""

from __future__ import annotations

from typing import Any, Protocol

from minivess.observability.api import Tracer


class _SearchObserver(Protocol):
    """The search engine's SearchObserver, restated structurally (observability imports nothing from pipelines)."""

    def note(self, text: str) -> None: ...

    def round_started(self, index: int, trials: int, space: Any) -> None: ...

    def trial_started(self, number: int, config: dict[str, Any]) -> None: ...

    def trial_epoch(self, number: int, epoch: int, score: float) -> None: ...

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None: ...


class TracedSearchObserver:
    """Forwards every call to `inner`; records reasoning, rounds and trial starts/ends (not epochs) as events."""

    def __init__(self, inner: _SearchObserver, tracer: Tracer) -> None:
        self.inner, self.tracer = inner, tracer

    def note(self, text: str) -> None:
        self.inner.note(text)
        self.tracer.event("search reasoning", input={"text": text})

    def round_started(self, index: int, trials: int, space: Any) -> None:
        self.inner.round_started(index, trials, space)
        self.tracer.event("search round", input={"round": index + 1, "trials": trials, "space": space.describe()})

    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        self.inner.trial_started(number, config)
        self.tracer.event("trial started", input={"trial": number, "config": config})

    def trial_epoch(self, number: int, epoch: int, score: float) -> None:
        self.inner.trial_epoch(number, epoch, score)

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None:
        self.inner.trial_finished(number, state, score, error)
        self.tracer.event(
            "trial finished",
            input={"trial": number},
            output={"state": state, "score": score, "error": error},
            level="WARNING" if state == "FAIL" else None,
        )
