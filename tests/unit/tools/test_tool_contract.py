"""The tool contract: schemas, argument validation as ToolInputError, approval rules, path guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from minivess.catalog import WORKER_TOOLS
from minivess.errors import ToolInputError
from minivess.settings import get_settings
from minivess.tools.base import ToolContext, tool
from minivess.tools.registry import ALL_TOOLS, REGISTRY
from minivess.tools.training import PredictVolumeArgs, TrainModelArgs, predict_volume, prediction_path, train_model


def _ctx() -> ToolContext:
    return ToolContext(settings=get_settings())


def test_every_tool_schema_is_openai_shaped_and_described() -> None:
    names = [t.name for t in ALL_TOOLS]
    assert sorted(names) == sorted(n for subset in WORKER_TOOLS.values() for n in subset)  # one owner each
    for schema in REGISTRY.schemas():
        function = schema["function"]
        assert schema["type"] == "function" and function["description"]
        params = function["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert all(p.get("description") for p in params.get("properties", {}).values()), function["name"]
    snapshot = {
        s["function"]["name"]: sorted(s["function"]["parameters"].get("properties", {})) for s in REGISTRY.schemas()
    }
    assert snapshot["train_model"] == sorted(TrainModelArgs.model_fields)
    assert snapshot["query_runs"] == ["max_rows", "sql"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"model": "segresnet", "epochs": 0}), "epochs"),
        (json.dumps({"model": "segresnet", "colour": "red"}), "colour"),
        (json.dumps({"epochs": 2}), "model"),
    ],
)
def test_bad_arguments_become_tool_input_errors(raw: str, message: str) -> None:
    with pytest.raises(ToolInputError, match=message):
        train_model.parse(raw)


def test_a_tool_without_docstring_or_field_descriptions_is_refused() -> None:
    class Args(BaseModel):
        model_config = ConfigDict(extra="forbid")
        x: int = Field(description="x")

    class Undocumented(BaseModel):
        model_config = ConfigDict(extra="forbid")
        y: int

    def no_doc(args: Args, ctx: ToolContext) -> Args:
        return args

    with pytest.raises(TypeError, match="docstring"):
        tool("t", Args, Args)(no_doc)

    def documented(args: Undocumented, ctx: ToolContext) -> Undocumented:
        """Doc."""
        return args

    with pytest.raises(TypeError, match="missing: y"):
        tool("t", Undocumented, Undocumented)(documented)


def test_training_needs_approval_by_default_and_not_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    args = train_model.parse({"model": "segresnet", "epochs": 2})
    assert "CPU minute" in (train_model.needs_approval(args, _ctx()) or "")
    monkeypatch.setenv("MINIVESS_APPROVAL_MINUTES", "30")
    assert train_model.needs_approval(args, _ctx()) is None


def test_prediction_paths_stay_under_home_or_cwd(tmp_path: Path) -> None:
    ctx = _ctx()
    inside = PredictVolumeArgs(run_id="last", input_path="x.nii.gz", output_path=str(tmp_path / "out.nii.gz"))
    assert prediction_path(inside, ctx) == (tmp_path / "out.nii.gz").resolve()  # tmp_path is the cwd in tests
    outside = PredictVolumeArgs(run_id="last", input_path="x.nii.gz", output_path="/etc/passwd")
    with pytest.raises(ToolInputError, match="outside the minivess home"):
        prediction_path(outside, ctx)
    (tmp_path / "out.nii.gz").write_bytes(b"old")
    assert "overwrites" in (predict_volume.needs_approval(inside, ctx) or "")
