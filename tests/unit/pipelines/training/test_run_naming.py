"""The training entry point names new runs: generated names are unique per experiment, a given run_name is kept."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from minivess.configs.experiment import ExperimentConfig
from minivess.pipelines.tracking import naming
from minivess.pipelines.training.runs import create_run


def _cfg(**tracking: str) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"model": {"name": "segresnet"}, "tracking": tracking})


def test_two_runs_get_two_names_and_a_given_name_is_kept(tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("minivess")
    tags = {naming.TAG_MODEL_FAMILY: "segresnet"}
    first, second = (create_run(client, experiment, _cfg(), tags) for _ in range(2))
    given = create_run(client, experiment, _cfg(run_name="baseline lr 1e-3"), tags)
    names = {r.run_id: client.get_run(r.run_id).info.run_name for r in (first, second, given)}
    assert names == {
        first.run_id: "segresnet-dice_ce-0001",
        second.run_id: "segresnet-dice_ce-0002",
        given.run_id: "baseline lr 1e-3",
    }
    run = client.get_run(second.run_id)
    assert run.data.tags[naming.TAG_RUN_NUMBER] == "2" and run.data.tags[naming.TAG_MODEL_FAMILY] == "segresnet"
    assert naming.TAG_RUN_NUMBER not in client.get_run(given.run_id).data.tags
