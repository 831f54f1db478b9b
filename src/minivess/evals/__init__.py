"""Braintrust eval suites that score the agent's decisions, with a local score history and a regression gate.

Suites: ``planner`` (tool choice and arguments per request), ``planner_holdout`` … ``planner_holdout14`` (the
same scoring on eleven frozen holdouts of requests written without reading the planner, `minivess.evals.holdouts`),
``analytics`` (answers over a fixture warehouse) and ``e2e`` (scripted chats that really train).
`build_suite(name, settings)` builds one; `run_suite` (in `minivess.evals.suite`) runs it through `braintrust.Eval`
and records the scores under HOME/evals/.
This module stays cheap to import: suites are imported only when built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

from minivess.errors import ConfigError

if TYPE_CHECKING:
    from minivess.evals.suite import Suite
    from minivess.settings import Settings

# The holdouts' names (their datasets and sources are in `minivess.evals.holdouts`, imported when one is built).
HOLDOUT_NAMES: Final[tuple[str, ...]] = (
    "planner_holdout",
    "planner_holdout2",
    "planner_holdout3",
    "planner_holdout4",
    "planner_holdout5",
    "planner_holdout6",
    "planner_holdout7",
    "planner_holdout8",
    "planner_holdout9",
    "planner_holdout10",
    "planner_holdout11",
    "planner_holdout12",
    "planner_holdout13",
    "planner_holdout14",
)
SUITE_NAMES: Final[tuple[str, ...]] = ("planner", *HOLDOUT_NAMES, "analytics", "e2e")


def build_suite(name: str, settings: Settings, *, limit: int | None = None) -> Suite:
    """Build one suite by name (its module is imported now).

    Args:
        name: ``planner``, ``planner_holdout`` … ``planner_holdout14``, ``analytics`` or ``e2e``.
        settings: Effective settings; the suite measures the model `settings.llm_model` names.
        limit: Only the first ``limit`` cases (smoke runs and tests); the dataset version records it.

    Returns:
        The suite, ready for `run_suite` or `braintrust.Eval(**suite.eval_kwargs(...))`.

    Raises:
        ConfigError: The name is not a suite (also a ValueError).
    """
    if name not in SUITE_NAMES:
        raise ConfigError(f"unknown eval suite '{name}'; choose from {', '.join(SUITE_NAMES)}.")
    if name in HOLDOUT_NAMES:
        from minivess.evals import holdouts

        return holdouts.build_suite(name, settings, limit=limit)
    module = importlib.import_module(f"minivess.evals.{name}")
    suite: Suite = module.build_suite(settings, limit=limit)
    return suite


__all__ = ["HOLDOUT_NAMES", "SUITE_NAMES", "build_suite"]
