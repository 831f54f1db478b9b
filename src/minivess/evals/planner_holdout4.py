"""The fourth planner holdout suite: the planner suite's task and scorers on ``datasets/planner_holdout4.jsonl``.

A fourth frozen set of requests, over all the registry's tools (the earlier holdouts cover the first ones only),
written (2026-12) from the tool schemas and the docs only, without looking at the planner's code, the cases it was
tuned on or the earlier holdouts, in styles a developer rarely tests (terse commands, long chatty requests, British
spelling, wishes, numbers as words, units, key=value, id prefixes, typos).
It is meant to be run once, at the end, to measure generalisation honestly; never edit a case to make the agent
pass, and never tune the planner against it: add new phrasings to ``planner.jsonl`` or the planner's own tests
instead, and write a fresh holdout when this one has been looked at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from minivess.evals import planner
from minivess.evals.suite import Suite
from minivess.settings import Settings

DATASET: Final = Path(__file__).with_name("datasets") / "planner_holdout4.jsonl"
NAME: Final = "planner_holdout4"


def load_cases(path: Path = DATASET) -> list[planner.PlannerCase]:
    """The holdout cases, validated like the planner dataset (ids unique, categories known)."""
    return planner.load_cases(path)


def build_suite(settings: Settings, *, limit: int | None = None) -> Suite:
    """The planner suite over the fourth holdout (first ``limit`` cases when given), recorded as
    ``planner_holdout4``."""
    return planner.build_suite(
        settings,
        dataset=DATASET,
        limit=limit,
        name=NAME,
        description="the planner suite on a fourth frozen holdout of unseen requests (stub tools)",
    )
