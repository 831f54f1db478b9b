"""What a search trial is given: its context (plain values sent to Ray workers) and its experiment values.

Imports no Ray: the driver reads these before Ray starts (Ray reads its auth settings once, at import).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minivess.pipelines.search.space import train_values
from minivess.pipelines.tracking import naming

SCORE = "score"  # best validation clDice so far: what Optuna and ASHA see
SCORE_METRIC = naming.METRIC_VAL_CLDICE


@dataclass(frozen=True)
class TrialContext:
    """What every trial needs besides its sampled configuration (sent to Ray workers, so plain values)."""

    search_id: str
    parent_run_id: str
    home: str
    tracking_uri: str
    device: str
    epochs: int
    max_trial_minutes: float
    dataset: str | None
    seed: int
    threads: int
    overrides: dict[str, Any]


def experiment_values(config: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """The typed experiment values of one trial: the sampled configuration on top of the search's settings."""
    values: dict[str, Any] = {
        **context.overrides,
        **train_values(config),
        "trainer.epochs": context.epochs,
        "trainer.max_minutes": context.max_trial_minutes,
        "trainer.seed": context.seed,
        "trainer.early_stopping.metric": SCORE_METRIC,
        "trainer.keep_epoch_weights": 0,
    }
    if context.dataset:
        values["data.dir"] = context.dataset
    return values
