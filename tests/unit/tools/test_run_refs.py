"""Run references the tools accept: id prefixes, 'last', 'best…', and the registry aliases 'champion'/'challenger'."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from minivess.errors import ToolInputError
from minivess.settings import get_settings
from minivess.tools.base import ToolContext
from minivess.tools.registry import REGISTRY
from minivess.tools.runs import resolve_run_ref
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, build_store, create_runs_with_ids, install_store


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoreInfo]:
    path = tmp_path_factory.mktemp("refs-mlflow") / "mlflow.db"
    return path, build_store(path, seed=2)


@pytest.fixture
def ctx(template: tuple[Path, StoreInfo], minivess_home: Path) -> ToolContext:
    install_store(template[0], minivess_home)
    return ToolContext(settings=get_settings())


def test_champion_and_challenger_resolve_to_the_runs_behind_the_aliases(
    ctx: ToolContext, template: tuple[Path, StoreInfo]
) -> None:
    info = template[1]
    assert resolve_run_ref("champion", ctx) == info.finished[0]
    assert resolve_run_ref(" challenger ", ctx) == info.finished[4]
    assert resolve_run_ref("champion:minivess-segmenter", ctx) == info.finished[0]


def test_an_alias_of_an_unknown_model_is_a_fixable_error(ctx: ToolContext) -> None:
    with pytest.raises(ToolInputError, match="cannot resolve run 'champion:no-such-model'.*champion"):
        resolve_run_ref("champion:no-such-model", ctx)


TWINS = ["5eed5e01" + "0" * 24, "5eed5e02" + "0" * 24]


@pytest.fixture
def twins(ctx: ToolContext, template: tuple[Path, StoreInfo]) -> list[str]:
    """Two runs in this test's store whose ids share the prefix '5eed5e'."""
    client = MlflowClient(tracking_uri=ctx.settings.tracking_uri)
    return create_runs_with_ids(client, template[1].experiment_id, TWINS)


def test_a_unique_id_prefix_resolves_through_the_tools(ctx: ToolContext, template: tuple[Path, StoreInfo]) -> None:
    run_id = template[1].finished[3]
    assert resolve_run_ref(run_id[:8], ctx) == run_id
    assert resolve_run_ref(f"{run_id[:6]}…", ctx) == run_id
    comparison = REGISTRY.get("get_run").run(REGISTRY.get("get_run").parse({"run_id": run_id[:8]}), ctx)
    assert [r.run_id for r in comparison.runs] == [run_id]


def test_an_ambiguous_prefix_goes_back_to_the_model_with_the_candidates(ctx: ToolContext, twins: list[str]) -> None:
    with pytest.raises(ToolInputError, match="cannot resolve run '5eed5e'.*ambiguous") as info:
        resolve_run_ref("5eed5e", ctx)
    assert all(t in str(info.value) for t in twins)
    assert resolve_run_ref(twins[1][:8], ctx) == twins[1]
    compare = REGISTRY.get("compare_runs")
    with pytest.raises(ToolInputError, match="ambiguous"):
        compare.run(compare.parse({"run_ids": ["5eed5e", twins[0]]}), ctx)


def test_a_too_short_prefix_is_a_fixable_error(ctx: ToolContext, template: tuple[Path, StoreInfo]) -> None:
    with pytest.raises(ToolInputError, match="too short: give at least 6 characters"):
        resolve_run_ref(template[1].finished[0][:4], ctx)


def test_a_refused_query_gives_the_model_every_table_with_its_columns(ctx: ToolContext) -> None:
    query = REGISTRY.get("query_runs")
    with pytest.raises(ToolInputError) as info:
        query.run(query.parse({"sql": "DELETE FROM runs"}), ctx)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("Only SELECT") and lines[1] == "Allowed tables and columns:"
    assert any(line.startswith("runs(run_id, ") for line in lines) and len(lines) < 20
