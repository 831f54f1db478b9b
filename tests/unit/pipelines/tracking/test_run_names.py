"""Generated run names: <model>-<loss>-<NNNN>, unique within an experiment even when two runs start at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from minivess.pipelines.tracking import naming, run_names


@pytest.fixture
def client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")


def _new_run(client: MlflowClient, experiment_id: str, family: str = "segresnet", loss: str = "dice_ce") -> str:
    """What the training entry point does: propose, create, claim."""
    name, tags = run_names.new_run_name(client, experiment_id, family, loss)
    run_id = client.create_run(experiment_id, run_name=name, tags=tags).info.run_id
    return run_names.claim_run_name(client, experiment_id, run_id, name)


def test_names_count_up_per_experiment(client: MlflowClient) -> None:
    first, other = client.create_experiment("first"), client.create_experiment("other")
    assert _new_run(client, first) == "segresnet-dice_ce-0001"
    assert _new_run(client, first, "DynUNet", "dice_ce_cldice") == "dynunet-dice_ce_cldice-0002"
    assert _new_run(client, other) == "segresnet-dice_ce-0001"
    client.create_run(first, run_name="my-own-name")  # a user-named run neither counts nor blocks
    assert _new_run(client, first) == "segresnet-dice_ce-0003"
    names = [r.info.run_name for r in client.search_runs([first])]
    assert len(names) == len(set(names)) == 4


def test_two_runs_that_start_together_get_two_names(client: MlflowClient) -> None:
    experiment = client.create_experiment("race")
    # Both processes search before either creates its run: they propose the same name.
    (name_a, tags_a), (name_b, tags_b) = (run_names.new_run_name(client, experiment, "segresnet", "dice_ce")
                                          for _ in range(2))  # fmt: skip
    assert name_a == name_b
    run_a = client.create_run(experiment, run_name=name_a, tags=tags_a).info.run_id
    run_b = client.create_run(experiment, run_name=name_b, tags=tags_b).info.run_id
    final = {run_names.claim_run_name(client, experiment, run_a, name_a),
             run_names.claim_run_name(client, experiment, run_b, name_b)}  # fmt: skip
    stored = {r.info.run_name for r in client.search_runs([experiment])}
    assert len(final) == 2 and final == stored
    assert all(n.startswith("segresnet-dice_ce-0001") for n in stored)
    assert f"segresnet-dice_ce-0001-{run_a[:8]}" in stored  # the one that claimed first saw the other and yielded
    assert _new_run(client, experiment) == "segresnet-dice_ce-0002"


def test_the_parts_of_a_name_are_safe_for_mlflow_filters(client: MlflowClient) -> None:
    assert run_names.base_name("Seg ResNet'", "dice/ce", 12) == "seg_resnet-dice_ce-0012"
    assert run_names.base_name("", "", 10_000) == "run-run-10000"
    with pytest.raises(ValueError, match="cannot be searched"):
        run_names.claim_run_name(client, "0", "x", "it's")
    assert naming.TAG_RUN_NUMBER == "minivess.run_number"
