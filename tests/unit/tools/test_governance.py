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


def _ask_and_check_the_span(settings: Settings, request: str, tool_name: str) -> dict[str, object]:
    """`minivess ask REQUEST --yes` in a fresh process: its first tool call, after checking its span was stored."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIVESS_")}
    env.update({"MINIVESS_HOME": str(settings.home_dir), "COLUMNS": "200"})

    def minivess(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "minivess", *args], capture_output=True, text=True,
                              timeout=300, env=env)  # fmt: skip

    asked = minivess("ask", request, "--yes", "--json")
    assert asked.returncode == 0, asked.stderr
    outcome = json.loads(asked.stdout)
    tool: dict[str, object] = outcome["tools"][0]
    assert tool["name"] == tool_name, tool
    shown = minivess("traces", "show", outcome["trace_id"])
    assert shown.returncode == 0, shown.stderr
    assert f"tool {tool_name}" in shown.stdout
    return tool


def test_the_chat_path_traces_the_tool_call(champion_home: tuple[Settings, str]) -> None:
    settings, run_id = champion_home
    tool = _ask_and_check_the_span(settings, "make a model card for the champion", "model_card")
    assert tool["result"]["run_id"] == run_id  # type: ignore[index]


def test_the_chat_path_traces_a_drift_check(champion_home: tuple[Settings, str], tmp_path: Path) -> None:
    settings, run_id = champion_home
    shifted = _dataset(tmp_path, "shifted", 6)
    tool = _ask_and_check_the_span(settings, f"has {shifted} drifted from the champion's training data?", "check_drift")
    assert tool["arguments"] == {"current": str(shifted)}, tool
    result = tool["result"]
    assert result["model_run_id"] == run_id and result["drifted"], result  # type: ignore[index]


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


def _dataset(root: Path, preset: str, seed: int, n: int = 6) -> Path:
    folder = root / f"{preset}-{seed}"
    write_dataset(folder, n=n, config=get_preset(preset).model_copy(update={"shape": (48, 48, 16)}), seed=seed)
    return folder


def test_check_drift_defaults_to_the_champions_training_data_and_predictions(
    champion_home: tuple[Settings, str], tmp_path: Path
) -> None:
    from minivess.tools.governance import CheckDriftArgs, check_drift

    settings, run_id = champion_home
    shifted = _dataset(tmp_path, "shifted", 2)
    result = check_drift.run(CheckDriftArgs(current=str(shifted)), ToolContext(settings=settings))
    assert result.model_run_id == run_id and Path(result.reference).name == "data" and result.n_reference == 5
    names = {f.name for f in result.features}
    assert {"pred_vessel_fraction", "pred_mean_entropy", "snr"} <= names
    assert result.sufficient and result.drifted and "intensity_p1" in result.drifted_features
    same = check_drift.run(
        CheckDriftArgs(current=str(_dataset(tmp_path, "default", 7))), ToolContext(settings=settings)
    )
    assert same.sufficient and not same.drifted, same.drifted_features


def test_check_drift_bad_references_go_back_as_tool_input_errors(
    champion_home: tuple[Settings, str], tmp_path: Path
) -> None:
    from minivess.tools.governance import CheckDriftArgs, check_drift

    settings, _ = champion_home
    ctx = ToolContext(settings=settings)
    with pytest.raises(ToolInputError, match="no dataset 'nowhere'"):
        check_drift.run(CheckDriftArgs(current="nowhere"), ctx)
    with pytest.raises(ToolInputError, match="check_drift"):
        check_drift.run(CheckDriftArgs(current=str(tmp_path), model="no-such-run-zz"), ctx)
    empty_home = Settings(home=tmp_path / "fresh-home")
    with pytest.raises(ToolInputError, match="promote a champion first"):
        check_drift.run(CheckDriftArgs(current=str(tmp_path)), ToolContext(settings=empty_home))


def test_predict_volume_warns_when_a_volume_is_outside_the_training_range(
    champion_home: tuple[Settings, str], tmp_path: Path
) -> None:
    from minivess.tools.training import PredictVolumeArgs, predict_volume

    settings, run_id = champion_home
    ctx = ToolContext(settings=settings)
    shifted = sorted((_dataset(tmp_path, "shifted", 3, n=1) / "raw").glob("*.nii.gz"))[0]
    warned = predict_volume.run(PredictVolumeArgs(run_id=run_id, input_path=str(shifted)), ctx)
    assert any("intensity_p1" in w and "outside the training data's range" in w for w in warned.drift_warnings)
    training = Path(settings.home_dir.parent / "data" / "raw")
    own = sorted(training.glob("*.nii.gz"))[0]
    fine = predict_volume.run(PredictVolumeArgs(run_id=run_id, input_path=str(own)), ctx)
    assert not [w for w in fine.drift_warnings if "intensity" in w or "spacing" in w], fine.drift_warnings


def test_the_nightly_drift_check_warns_on_shifted_data_and_says_why_when_it_cannot_check(
    champion_home: tuple[Settings, str], tmp_path: Path
) -> None:
    from minivess.pipelines.governance.drift import search_drift_notes

    settings, _ = champion_home
    shifted = _dataset(tmp_path, "shifted", 4)
    [warning] = search_drift_notes(settings, shifted)
    assert warning.startswith("drift warning: ") and "intensity_p1" in warning and str(shifted) in warning
    assert search_drift_notes(settings, _dataset(tmp_path, "default", 8))[0].startswith("no drift: ")
    assert search_drift_notes(settings, settings.home_dir.parent / "data") == []  # the champion's own data
    fresh = Settings(home=tmp_path / "fresh-home")
    [why] = search_drift_notes(fresh, shifted)
    assert why.startswith("no drift check: no champion")
    few = _dataset(tmp_path, "shifted", 5, n=3)
    [verdict] = search_drift_notes(settings, few)
    assert verdict.startswith("drift: no verdict") and "too few volumes (5 and 3 with a value)" in verdict
