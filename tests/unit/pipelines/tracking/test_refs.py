"""Run ids as users type them: full ids, unique prefixes (≥ 6 characters), 'last'; ambiguity lists candidates."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from minivess.errors import TrainingError
from minivess.pipelines.tracking.refs import MIN_PREFIX, resolve_run_id
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, build_store, create_runs_with_ids

TWINS = ["abcdef01" + "0" * 24, "abcdef02" + "0" * 24]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, StoreInfo]:
    info = build_store(tmp_path_factory.mktemp("refs") / "mlflow.db", seed=3)
    client = MlflowClient(tracking_uri=info.uri)
    create_runs_with_ids(client, info.experiment_id, TWINS)
    return client, info


def _absent_prefix(client: MlflowClient) -> str:
    ids = {r.info.run_id for r in client.search_runs([e.experiment_id for e in client.search_experiments()])}
    return next(p for p in (f"{n:06x}" for n in range(0xFFFFFF, 0, -1)) if not any(i.startswith(p) for i in ids))


def test_a_unique_prefix_resolves_to_the_full_id(store: tuple[MlflowClient, StoreInfo]) -> None:
    client, info = store
    for run_id in (info.finished[2], info.finished[-1], info.failed[0]):  # both experiments, any status
        assert resolve_run_id(client, run_id[:8]) == run_id
        assert resolve_run_id(client, run_id[:MIN_PREFIX]) == run_id
        assert resolve_run_id(client, f" {run_id[:8].upper()}… ") == run_id  # as answers abbreviate ids
        assert resolve_run_id(client, run_id) == run_id
    assert resolve_run_id(client, TWINS[0][:8]) == TWINS[0]


def test_an_ambiguous_prefix_lists_the_candidates(store: tuple[MlflowClient, StoreInfo]) -> None:
    with pytest.raises(TrainingError, match="'abcdef' is ambiguous") as info:
        resolve_run_id(store[0], "abcdef")
    message = str(info.value)
    assert TWINS[0] in message and TWINS[1] in message and "twin-0" in message
    assert "give more characters" in message


def test_a_short_or_unknown_prefix_says_what_to_do(store: tuple[MlflowClient, StoreInfo]) -> None:
    client, info = store
    with pytest.raises(TrainingError, match=f"too short: give at least {MIN_PREFIX} characters"):
        resolve_run_id(client, info.finished[0][:5])
    absent = _absent_prefix(client)
    with pytest.raises(TrainingError, match=f"no run id starts with '{absent}'"):
        resolve_run_id(client, absent)
    with pytest.raises(TrainingError, match="no run 'not-a-run'.*unique id prefix"):
        resolve_run_id(client, "not-a-run")
    with pytest.raises(TrainingError, match="no run '"):  # quotes never reach the filter string
        resolve_run_id(client, "abcdef' OR '1'='1")


def test_last_is_the_newest_run(store: tuple[MlflowClient, StoreInfo], tmp_path: Path) -> None:
    assert resolve_run_id(store[0], "last") == TWINS[-1]
    empty = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(TrainingError, match="no runs yet"):
        resolve_run_id(empty, "last")
