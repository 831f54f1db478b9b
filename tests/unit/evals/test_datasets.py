"""The shipped eval datasets are broad and consistent with the real tools."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from minivess.evals import HOLDOUT_NAMES, SUITE_NAMES, analytics, planner
from minivess.evals.gate import check_gate, load_floors
from minivess.evals.history import RunSummary
from minivess.evals.holdouts import HOLDOUTS
from minivess.settings import get_settings
from minivess.tools.base import ToolContext
from minivess.tools.registry import REGISTRY

# Dummy values for required fields a case does not check (only its listed keys are scored).
FILLS: dict[str, Any] = {"run_id": "last", "input_path": "x.nii.gz", "run_ids": ["last", "best"], "param": "loss.name",
                         "sql": "SELECT 1", "model": "segresnet", "current": "data/new"}  # fmt: skip


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


# The holdouts are frozen: each was written before the planner was changed and must never be tuned against. A
# genuinely wrong expectation may be fixed (say why in the commit message); then update its hash.
HOLDOUT_SHA256 = "2b010144bb0f47d07679f4f4f921de7f976969d24a4619b6ea5d32b10ffd340d"
HOLDOUT2_SHA256 = "a7af90c44c99e48b21ce57fdd38a4324c50e2e984083181c6e337a6cec38466f"
HOLDOUT3_SHA256 = "fafec8d91a5803b116a6b671f6c93d13af9621ab0a9c31102dac014b60e5f470"
HOLDOUT4_SHA256 = "2330dcc94439792be0212583aa8e486468b28fbf902dc44eae66bd72f4d7b3ab"
HOLDOUT5_SHA256 = "6f7f10893739feffc63fc831cef19a9be559b6265341efeb1b697e1aeaf56719"
HOLDOUT6_SHA256 = "f15c0668876ebc50521927a715e172bb4c38d3147fe68255f010a40768a0e6a0"
HOLDOUT7_SHA256 = "062dc4783db21d60efec3f4f2c0c818926839c400786a4e416e824ba0c13ba94"
HOLDOUT8_SHA256 = "458940c62f6a00e7120052f4c7bfec360d998f34a2dc4a75df742329696b376d"
HOLDOUT9_SHA256 = "47e9079833ba84692a743dc4682a081acb126675a447b117050a51212ce24923"
HOLDOUT10_SHA256 = "f7153efe50bf928f5fc76b61d5a9d5e7e449d563b9be3331a4d7823cdc9f9c6d"
HOLDOUT11_SHA256 = "4b5a9312fa85f6af2ad9b928b326bde89c78a2574ec61614982fe0373df5b31e"
HOLDOUT12_SHA256 = "8b9280855447a0d07611f7f00972664a449d14cf5be6f0fc5212ccd3f4a62def"
HOLDOUT13_SHA256 = "bfad785e692fe80a5ec26faaf105e30e815b45d4b55d46ffa68b7dc4488db890"
HOLDOUT14_SHA256 = "3bb12ae917d02984bce1a300847e2d3f6ececd4980392b0567fda39665300362"
HOLDOUT_SHA256S: dict[str, str] = {
    "planner_holdout": HOLDOUT_SHA256,
    "planner_holdout2": HOLDOUT2_SHA256,
    "planner_holdout3": HOLDOUT3_SHA256,
    "planner_holdout4": HOLDOUT4_SHA256,
    "planner_holdout5": HOLDOUT5_SHA256,
    "planner_holdout6": HOLDOUT6_SHA256,
    "planner_holdout7": HOLDOUT7_SHA256,
    "planner_holdout8": HOLDOUT8_SHA256,
    "planner_holdout9": HOLDOUT9_SHA256,
    "planner_holdout10": HOLDOUT10_SHA256,
    "planner_holdout11": HOLDOUT11_SHA256,
    "planner_holdout12": HOLDOUT12_SHA256,
    "planner_holdout13": HOLDOUT13_SHA256,
    "planner_holdout14": HOLDOUT14_SHA256,
}
PLANNER_DATASETS = (planner.DATASET, *(holdout.dataset for holdout in HOLDOUTS.values()))
# The tools that existed when the holdouts were frozen: a tool added since (the uncertainty tools) cannot be in
# them, and the planner set covers it instead (test_planner_dataset_is_broad).
HOLDOUT_TOOLS = frozenset(
    {"train_model", "evaluate_run", "predict_volume", "promote_model", "synthesize_data", "dataset_info",
     "leaderboard", "compare_runs", "get_run", "learning_curves", "failure_summary", "param_effect", "query_runs",
     "describe_warehouse"}
)  # fmt: skip


def test_every_holdout_is_a_suite_and_pinned() -> None:
    assert tuple(HOLDOUTS) == HOLDOUT_NAMES
    assert set(HOLDOUT_SHA256S) == set(HOLDOUTS)


@pytest.mark.parametrize("name", list(HOLDOUTS))
def test_planner_holdout_is_broad_and_frozen(name: str) -> None:
    holdout = HOLDOUTS[name]
    assert hashlib.sha256(holdout.dataset.read_bytes()).hexdigest() == HOLDOUT_SHA256S[name]
    cases = holdout.load_cases()
    source = holdout.source
    assert len(cases) >= 150
    assert len({case.id for case in cases}) == len(cases)
    assert all(case.source.startswith(source) for case in cases)
    categories = Counter(case.category for case in cases)
    assert set(categories) == set(planner.CATEGORIES)
    assert categories["clarify"] >= 20, categories
    assert sum(len(c.expect.calls) > 1 for c in cases) >= 20, "multi-step requests"
    assert sum(bool(c.history) for c in cases) >= 15, "references to earlier turns"
    tools = Counter(call.tool for case in cases for call in case.expect.calls)
    assert set(REGISTRY.names()) >= HOLDOUT_TOOLS
    expected = set(REGISTRY.names()) if holdout.covers_all_tools else HOLDOUT_TOOLS
    assert set(tools) == expected, f"no case expects {expected - set(tools)}"
    for other in PLANNER_DATASETS:
        if other != holdout.dataset:
            requests = {c.request for c in planner.load_cases(other)}
            assert not [c.id for c in cases if c.request in requests], f"a {name} request is also in {other.name}"


@pytest.mark.parametrize("dataset", PLANNER_DATASETS, ids=lambda p: p.stem)
def test_planner_expectations_match_the_tools(dataset: Path) -> None:
    ctx = ToolContext(settings=get_settings())
    for case in planner.load_cases(dataset):
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


# A holdout gets floors once it has been measured (every suite has been by now).
UNFLOORED: frozenset[str] = frozenset()


def test_shipped_floors_cover_every_measured_suite() -> None:
    floors = load_floors()
    assert set(floors.suites) == set(SUITE_NAMES) - UNFLOORED
    assert set(floors.for_suite("planner")) == {s.__name__ for s in planner.SCORERS}
    assert floors.for_suite("planner")["approval_respected"] == 1.0


def _run(suite: str, means: dict[str, float]) -> RunSummary:
    return RunSummary(suite=suite, run_id="r1", timestamp="2026-12-01T10:00:00+00:00", commit="abc", model="m",
                      dataset_version="v1", cases=1, errors=0, means=means, records=())  # fmt: skip


def test_a_suite_run_without_floors_does_not_fail_the_default_gate() -> None:
    name = "a_new_holdout"  # a suite recorded before its floors exist
    floors = load_floors()
    latest = {"planner": _run("planner", floors.for_suite("planner")), name: _run(name, {})}
    result = check_gate(latest, floors)
    assert result.ok, result.problems
    assert name not in {check.suite for check in result.checks}
    named = check_gate(latest, floors, [name])  # naming it explicitly still asks for floors
    assert not named.ok and "no floors" in named.problems[0]
