"""First use of an MLflow store: the file behind a URI, and an experiment created by another process meanwhile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pytest

from minivess.pipelines.tracking.mlflow_run import client_for, get_or_create_experiment, sqlite_store_file


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:////abs/m.db", Path("/abs/m.db")),
        ("http://127.0.0.1:5000", None),
        ("sqlite:///:memory:", None),
    ],
)
def test_sqlite_store_file(uri: str, expected: Path | None) -> None:
    assert sqlite_store_file(uri) == expected


def test_a_relative_sqlite_uri_is_relative_to_the_cwd(tmp_path: Path) -> None:
    assert sqlite_store_file("sqlite:///m.db") == tmp_path / "m.db"  # conftest chdirs into tmp_path


def test_client_for_creates_the_store_once_under_a_lock(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    (tmp_path / "store").mkdir()
    client = client_for(uri)
    assert (tmp_path / "store" / "mlflow.db").is_file()
    first = get_or_create_experiment(client, "exp", tmp_path / "art")
    assert get_or_create_experiment(client_for(uri), "exp", tmp_path / "art") == first


class _LosesTheRace:
    """A client whose create_experiment finds the experiment already created by another process."""

    tracking_uri = "http://tracking.invalid"

    def __init__(self) -> None:
        self.created: Any = None

    def get_experiment_by_name(self, name: str) -> Any:
        return self.created

    def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
        self.created = type("Experiment", (), {"experiment_id": "7", "lifecycle_stage": "active"})()
        raise mlflow.exceptions.MlflowException(f"Experiment '{name}' already exists.")


def test_an_experiment_created_meanwhile_is_read_not_an_error() -> None:
    assert get_or_create_experiment(_LosesTheRace(), "exp", None) == "7"  # type: ignore[arg-type]
