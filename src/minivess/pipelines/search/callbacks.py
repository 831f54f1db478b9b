"""The Ray Tune callback of a search: trial events to the observer, time spent to `search.json`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from minivess.pipelines.search import record as records
from minivess.pipelines.search.context import SCORE
from minivess.pipelines.search.record import SearchRecord
from minivess.settings import Settings

if TYPE_CHECKING:
    from minivess.pipelines.search.engine import SearchObserver


class SearchProgress(Callback):
    """Forwards trial events and saves the time spent after each epoch (a kill -9 loses at most one epoch)."""

    def __init__(self, settings: Settings, record: SearchRecord, observer: SearchObserver) -> None:
        self.settings, self.record, self.observer = settings, record, observer
        self.base_spent = record.spent_seconds
        self.started = time.monotonic()

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles its callbacks into an experiment file we never restore from; the observer holds locks."""
        return {}

    def persist(self) -> None:
        self.record.spent_seconds = self.base_spent + (time.monotonic() - self.started)
        records.save(self.settings, self.record)

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        config = {k: v for k, v in trial.config.items() if k != "trial_number"}
        self.observer.trial_started(_number(trial), config)

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        self.persist()
        self.observer.trial_epoch(_number(trial), int(result.get("epoch", 0)), float(result.get(SCORE, 0.0)))

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.persist()
        score = (trial.last_result or {}).get(SCORE)
        self.observer.trial_finished(_number(trial), "COMPLETE", None if score is None else float(score), "")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self.persist()
        self.observer.trial_finished(_number(trial), "FAIL", None, "see the trial run's minivess.error tag")


def _number(trial: Any) -> int:
    return int(trial.config.get("trial_number", -1))
