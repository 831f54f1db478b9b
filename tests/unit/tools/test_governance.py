"""The model_card tool: a card of the champion (attached to its version), bad references as ToolInputError, and
the chat path leaving a `tool model_card` span in the local trace store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minivess.errors import ToolInputError
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.settings import Settings
from minivess.tools.base import ToolContext
from minivess.tools.governance import ModelCardArgs, model_card
from minivess.tools.registry import REGISTRY
from tests.integration.conftest import tiny_overrides


@pytest.fixture(scope="module")
def champion_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    """A home with one 1-epoch SegResNet run registered as the champion (~12 s)."""
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.naming import DEFAULT_REGISTERED_MODEL
    from minivess.pipelines.tracking.registry import register_run_model
    from minivess.pipelines.training import runs

    root = tmp_path_factory.mktemp("governance-tool")
    data_dir = root / "data"
    write_dataset(data_dir, n=5, config=get_preset("default").model_copy(update={"shape": (48, 48, 16)}), seed=1)
    settings = Settings(home=root / "home")
    result = runs.train(load_experiment(None, tiny_overrides(data_dir, epochs=1)), settings)
    register_run_model(client_for(settings.tracking_uri), result.run_id, DEFAULT_REGISTERED_MODEL, alias="champion")
    return settings, result.run_id


def test_model_card_of_the_champion(champion_home: tuple[Settings, str]) -> None:
    settings, run_id = champion_home
    args = REGISTRY.get("model_card").parse("{}")
    assert args == ModelCardArgs(model="champion")
    result = model_card.run(args, ToolContext(settings=settings))
    assert result.run_id == run_id and result.version == "1" and result.aliases == ["champion"]
    assert Path(result.markdown).is_file() and Path(result.html).is_file()
    assert result.artifact_path == "cards/model_card.md"
    assert result.temperature is None and "calibration" in result.missing
    assert result.best_val_dice is not None


@pytest.mark.parametrize("ref", ["nosuchrun", "challenger", "minivess-segmenter@9"])
def test_a_reference_that_matches_nothing_is_a_tool_input_error(champion_home: tuple[Settings, str], ref: str) -> None:
    settings, _ = champion_home
    with pytest.raises(ToolInputError, match=f"cannot document '{ref}'"):
        model_card.run(ModelCardArgs(model=ref), ToolContext(settings=settings))


def test_bad_arguments_are_tool_input_errors() -> None:
    with pytest.raises(ToolInputError, match="colour"):
        REGISTRY.get("model_card").parse({"model": "champion", "colour": "red"})


def test_the_chat_path_traces_the_tool_call(champion_home: tuple[Settings, str]) -> None:
    settings, run_id = champion_home
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIVESS_")}
    env.update({"MINIVESS_HOME": str(settings.home_dir), "COLUMNS": "200"})

    def minivess(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "minivess", *args], capture_output=True, text=True,
                              timeout=300, env=env)  # fmt: skip

    asked = minivess("ask", "make a model card for the champion", "--yes", "--json")
    assert asked.returncode == 0, asked.stderr
    outcome = json.loads(asked.stdout)
    tool = outcome["tools"][0]
    assert tool["name"] == "model_card" and tool["result"]["run_id"] == run_id
    shown = minivess("traces", "show", outcome["trace_id"])
    assert shown.returncode == 0, shown.stderr
    assert "tool model_card" in shown.stdout


def test_promote_model_records_the_promotion_in_the_audit_trail(champion_home: tuple[Settings, str]) -> None:
    from minivess.pipelines.governance import audit
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.tools.training import PromoteModelArgs, promote_model

    settings, run_id = champion_home
    before = len(audit.entries(settings))
    result = promote_model.run(PromoteModelArgs(run_id=run_id, alias="challenger"), ToolContext(settings=settings))
    promotions = [e for e in audit.entries(settings)[before:] if e.kind == "promotion"]
    assert len(promotions) == 1
    entry = promotions[0]
    assert entry.subject == f"minivess-segmenter v{result.version} → challenger" and entry.mlflow_run_id == run_id
    tags = client_for(settings.tracking_uri).get_run(run_id).data.tags
    assert entry.data_version == tags["minivess.data_version"] and entry.git_commit and entry.lockfile_sha256
    assert audit.verify(settings).ok
