"""Summaries read the real result models (dumped to JSON as the tool node sends them) and keep the key numbers."""

from __future__ import annotations

from pydantic import BaseModel

from minivess.agents.planner.conversation import outcome_of
from minivess.agents.planner.summary import summarize
from minivess.pipelines.analytics.guard import SqlResult
from minivess.pipelines.analytics.models import (
    EffectGroup,
    FailedRun,
    FailureGroup,
    FailureSummary,
    Leaderboard,
    LeaderboardRow,
    MetricCell,
    MetricComparison,
    ParamDiff,
    ParamEffect,
    RunBrief,
    RunComparison,
)
from minivess.tools.data import SynthesizeDataResult
from minivess.tools.training import EvaluateRunResult, PredictVolumeResult, PromoteModelResult, TrainModelResult
from tests.unit.agents.planner.support import RUN_A, RUN_B


def _line(name: str, result: BaseModel) -> str:
    return summarize(outcome_of(name, result.model_dump_json()))


def test_training_and_experiment_results() -> None:
    train = TrainModelResult(
        run_id=RUN_A, model="segresnet", loss="dice_ce_cldice", status="FINISHED", stop_reason="max_epochs",
        epochs_completed=3, best_epoch=2, best_metric=0.61234, metric="val_dice", last_metrics={"val_dice": 0.6},
    )  # fmt: skip
    line = _line("train_model", train)
    assert all(part in line for part in (RUN_A, "segresnet", "0.6123", "epoch 2", "3 epoch(s)", "dice_ce_cldice"))
    evaluation = EvaluateRunResult(run_id=RUN_A, split="test", summary={"dice": 0.7, "hd95": 12.5}, per_volume={})
    assert "dice 0.7000" in _line("evaluate_run", evaluation) and "hd95 12.5" in _line("evaluate_run", evaluation)
    predicted = PredictVolumeResult(run_id=RUN_A, output_path="/tmp/m.nii.gz", vessel_fraction=0.031)
    assert "/tmp/m.nii.gz" in _line("predict_volume", predicted) and "3.10%" in _line("predict_volume", predicted)
    promoted = PromoteModelResult(run_id=RUN_A, model_name="minivess-segmenter", version="4", alias="challenger")
    assert "version 4" in _line("promote_model", promoted) and "challenger" in _line("promote_model", promoted)
    data = SynthesizeDataResult(path="/h/data/shifted", n=6, shape=[64, 64, 32], preset="shifted")
    assert "6 synthetic" in _line("synthesize_data", data) and "64×64×32" in _line("synthesize_data", data)


def test_analytics_results() -> None:
    brief_a = RunBrief(run_id=RUN_A, model_family="segresnet", status="FINISHED")
    brief_b = RunBrief(run_id=RUN_B, model_family="swinunetr", status="FINISHED")
    board = Leaderboard(
        metric="val_cldice", direction="max", by="family", statuses=["FINISHED"],
        rows=[LeaderboardRow(rank=1, group="segresnet", run=brief_a, best_value=0.7, best_step=3, last_value=0.69,
                             runs_in_group=2)],
    )  # fmt: skip
    assert all(part in _line("leaderboard", board) for part in ("val_cldice", "segresnet", RUN_A, "0.7000", "epoch 3"))
    cell = MetricCell(best_value=0.5, best_step=2, last_value=0.5, last_step=2, n_values=2)
    comparison = RunComparison(
        runs=[brief_a, brief_b],
        params=[ParamDiff(key="model.name", values={RUN_A: "segresnet", RUN_B: "swinunetr"}, differs=True)],
        metrics=[MetricComparison(key="val_dice", direction="max", cells={RUN_A: cell, RUN_B: None}, best_run=RUN_A)],
    )
    line = _line("compare_runs", comparison)
    assert RUN_A in line and RUN_B in line and "0.5000" in line and "model.name" in line
    failed = FailedRun(run=brief_a, message="ValueError: lr too high", params={"optim.lr": "0.9"})
    failures = FailureSummary(total=1, groups=[FailureGroup(error_type="ValueError", count=1, runs=[failed])])
    assert "optim.lr=0.9" in _line("failure_summary", failures) and "lr too high" in _line("failure_summary", failures)
    groups = [
        EffectGroup(value="dice_ce", n=2, mean=0.5, std=0.1, min=0.4, max=0.6, best_run=RUN_A),
        EffectGroup(value="dice_ce_cldice", n=3, mean=0.55, std=0.1, min=0.45, max=0.65, best_run=RUN_B),
    ]
    effect = ParamEffect(param="loss.name", metric="val_dice", direction="max", statuses=["FINISHED"], groups=groups)
    assert "Best on average: dice_ce_cldice" in _line("param_effect", effect)
    sql = SqlResult(sql="SELECT 1", columns=["n_runs"], types=["BIGINT"], rows=[[7]], truncated=False, row_cap=100,
                    seconds=0.01)  # fmt: skip
    assert "n_runs=7" in _line("query_runs", sql)


def test_errors_rejections_and_unknown_shapes() -> None:
    assert summarize(outcome_of("get_run", "ERROR: no run 'x'")) == "get_run failed: no run 'x'"
    assert "not approved: too long" in summarize(outcome_of("train_model", "REJECTED: too long"))
    assert summarize(outcome_of("leaderboard", "plain words")).startswith("leaderboard returned: plain words")
    odd = summarize(outcome_of("leaderboard", '{"rows": "not a list"}'))
    assert "empty" in odd or "returned" in odd
