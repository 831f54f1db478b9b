"""The planner holdout suites: the planner suite's task and scorers on frozen sets of unseen requests.

Each holdout was written (2026-12) from the tool schemas and the docs only, by someone who had not read the
planner's code, the cases it was tuned on or the earlier holdouts, and frozen (a test pins its sha256). A holdout
measures generalisation honestly once: the first run after it was written. Its misses may then guide a planner
change, after which it is a regression suite like ``planner`` and the next change needs a fresh holdout. Never
edit a case to make the agent pass; a genuinely wrong expectation may be fixed, with the reason in the commit.
``docs/evals.md`` lists when each was measured and what it scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from minivess.evals import planner
from minivess.evals.suite import Suite
from minivess.settings import Settings

_DATASETS: Final = Path(__file__).with_name("datasets")


@dataclass(frozen=True)
class Holdout:
    """One frozen holdout: its suite name, its dataset and the ``source`` its cases carry."""

    name: str
    source: str
    covers_all_tools: bool  # written after every tool of the registry existed (the first three predate some)

    @property
    def dataset(self) -> Path:
        return _DATASETS / f"{self.name}.jsonl"

    def load_cases(self) -> list[planner.PlannerCase]:
        """The cases, validated like the planner dataset (ids unique, categories known)."""
        return planner.load_cases(self.dataset)


HOLDOUTS: Final[dict[str, Holdout]] = {
    holdout.name: holdout
    for holdout in (
        Holdout("planner_holdout", "holdout-2026-12", covers_all_tools=False),
        Holdout("planner_holdout2", "holdout2-2026-12", covers_all_tools=False),
        Holdout("planner_holdout3", "holdout3-2026-12", covers_all_tools=False),
        Holdout("planner_holdout4", "holdout4-2026-12", covers_all_tools=True),
        Holdout("planner_holdout5", "holdout5-2026-12", covers_all_tools=True),
        Holdout("planner_holdout6", "holdout6-2026-12", covers_all_tools=True),
        Holdout("planner_holdout7", "holdout7-2026-12", covers_all_tools=True),
        Holdout("planner_holdout8", "holdout8-2026-12", covers_all_tools=True),
        Holdout("planner_holdout9", "holdout9-2026-12", covers_all_tools=True),
        Holdout("planner_holdout10", "holdout10-2026-12", covers_all_tools=True),
        Holdout("planner_holdout11", "holdout11-2026-12", covers_all_tools=True),
        Holdout("planner_holdout12", "holdout12-2026-12", covers_all_tools=True),
        Holdout("planner_holdout13", "holdout13-2026-12", covers_all_tools=True),
        Holdout("planner_holdout14", "holdout14-2026-12", covers_all_tools=True),
    )
}


def build_suite(name: str, settings: Settings, *, limit: int | None = None) -> Suite:
    """The planner suite over holdout ``name`` (first ``limit`` cases when given), recorded under that name."""
    holdout = HOLDOUTS[name]
    return planner.build_suite(
        settings,
        dataset=holdout.dataset,
        limit=limit,
        name=name,
        description=f"the planner suite on the frozen holdout {name} of unseen requests (stub tools)",
    )
