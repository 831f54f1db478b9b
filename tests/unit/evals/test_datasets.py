"""The shipped eval datasets are broad and consistent with the real tools."""

from __future__ import annotations

from collections import Counter
from typing import Any

from minivess.evals import analytics, planner
from minivess.evals.gate import load_floors
from minivess.settings import get_settings
from minivess.tools.base import ToolContext
from minivess.tools.registry import REGISTRY

# Dummy values for required fields a case does not check (only its listed keys are scored).
FILLS: dict[str, Any] = {"run_id": "last", "input_path": "x.nii.gz", "run_ids": ["last", "best"], "param": "loss.name",
                         "sql": "SELECT 1", "model": "segresnet"}  # fmt: skip


def _parse(tool: str, args: dict[str, Any]) -> Any:
    required = REGISTRY.get(tool).schema()["function"]["parameters"].get("required", [])
    values = {key: FILLS[key] for key in required}
    values.update({k: v for k, v in args.items() if v is not None})
    return REGISTRY.get(tool).parse(values)


def test_planner_dataset_is_broad() -> None:
    cases = planner.load_cases()
    assert len(cases) >= 80
    categories = Counter(case.category for case in cases)
    assert set(categories) == set(planner.CATEGORIES)
    assert min(categories.values()) >= 10, categories
    assert sum(len(c.expect.calls) > 1 for c in cases) >= 15, "multi-step requests"
    assert sum(bool(c.history) for c in cases) >= 20, "references to earlier turns"
    assert sum(c.source == "new" for c in cases) >= 30, "phrasings the planner's unit tests never saw"
    tools = Counter(call.tool for case in cases for call in case.expect.calls)
    assert set(REGISTRY.names()) <= set(tools), f"no case expects {set(REGISTRY.names()) - set(tools)}"


def test_planner_expectations_match_the_tools() -> None:
    ctx = ToolContext(settings=get_settings())
    for case in planner.load_cases():
        for call in case.expect.calls:
            _parse(call.tool, call.args)  # every expected argument is valid for the real tool
        kind = case.expect.text_kind
        assert (kind is None) == bool(case.expect.calls), case.id
        if case.category == "clarify":
            assert kind == "clarify", case.id
        if case.category == "history":
            assert case.history, case.id
        if case.expect.approval:
            last = case.expect.calls[-1]
            assert REGISTRY.get(last.tool).needs_approval(_parse(last.tool, last.args), ctx), case.id
            for earlier in case.expect.calls[:-1]:
                assert not REGISTRY.get(earlier.tool).needs_approval(_parse(earlier.tool, earlier.args), ctx)
        assert (case.category == "approval") == case.expect.approval, case.id


def test_analytics_dataset_is_well_formed() -> None:
    cases = analytics.load_cases()
    assert len(cases) >= 30
    assert all(case.sql.lstrip().upper().startswith("SELECT") for case in cases)


def test_shipped_floors_cover_every_suite() -> None:
    floors = load_floors()
    assert set(floors.suites) == {"planner", "analytics", "e2e"}
    assert set(floors.for_suite("planner")) == {s.__name__ for s in planner.SCORERS}
    assert floors.for_suite("planner")["approval_respected"] == 1.0
