"""Fixtures: one real MLflow store built per session, copied into each test's MINIVESS_HOME."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from minivess.settings import Settings
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, build_store, install_store


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoreInfo]:
    """Build the store once (MLflow's schema migration alone takes ~2 s)."""
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    return path, build_store(path)


@pytest.fixture
def store(store_template: tuple[Path, StoreInfo], minivess_home: Path) -> StoreInfo:
    """The template store installed as this test's default tracking store (Settings().tracking_uri)."""
    template, info = store_template
    install_store(template, minivess_home)
    return dataclasses.replace(info, uri=Settings().tracking_uri)


@pytest.fixture
def mlflow_uri(store: StoreInfo, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point MLflow's fluent API (mlflow.search_runs) at the test store; restored after the test."""
    from mlflow.tracking._tracking_service import utils

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setattr(utils, "_tracking_uri", store.uri)
    return store.uri
