"""Run references the tools accept instead of ids: 'last', 'best…', and the registry aliases 'champion'/'challenger'."""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.errors import ToolInputError
from minivess.settings import get_settings
from minivess.tools.base import ToolContext
from minivess.tools.runs import resolve_run_ref
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, build_store, install_store


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
