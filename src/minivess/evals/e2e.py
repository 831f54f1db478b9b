"""The end-to-end suite: scripted chats that really synthesise data and train on it through the real graph.

Each task runs in its own temp home on tiny synthetic data (5 volumes of 48×48×16, 1–2 SegResNet epochs) with the
real tools, approving like ``--yes`` (one task answers the approval itself instead). Scored on the outcome (a
FINISHED MLflow run with the requested config), the LLM calls used, wall-clock latency and cost.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from autoevals import JSONDiff  # type: ignore[import-untyped]
from braintrust import EvalCase, EvalHooks

from minivess.evals import scorers
from minivess.evals.harness import Conversation, case_id, case_settings, record_trace
from minivess.evals.suite import Suite, dataset_version
from minivess.settings import Settings

SHAPE: Final = (48, 48, 16)
VOLUMES: Final = 5
MAX_COST_USD: Final = 0.05  # per task; the embedded planner is free


@dataclass(frozen=True)
class ScriptedTask:
    """One scripted chat.

    Attributes:
        id: Case id.
        turns: User messages, sent in order on one thread.
        params: MLflow params the trained run must have (as logged, text).
        metrics: Metric keys the run must have logged (e.g. ``test_dice`` after an evaluation).
        prepare_data: Synthesise the dataset before the chat (else the chat must do it).
        ask_first: Send the first turn without auto-approval: it must stop for approval with no run yet; the
            task then approves.
        max_llm_calls: Step budget for the whole chat.
        max_seconds: Latency budget for the whole chat (this CPU: 2 cores).
    """

    id: str
    turns: tuple[str, ...]
    params: dict[str, str]
    metrics: tuple[str, ...] = ()
    prepare_data: bool = True
    ask_first: bool = False
    max_llm_calls: int = 6
    max_seconds: float = 60.0
    tools: tuple[str, ...] = field(default=())


TASKS: Final[tuple[ScriptedTask, ...]] = (
    ScriptedTask(
        id="synth-then-train",
        turns=(
            "synthesize 5 volumes of size 48x48x16 with seed 1, then train segresnet for 1 epoch with patch "
            "size 48x48x16 and batch size 1",
        ),
        params={"model.name": "segresnet", "trainer.epochs": "1", "trainer.batch_size": "1"},
        prepare_data=False,
        max_llm_calls=5,
        tools=("synthesize_data", "train_model"),
    ),
    ScriptedTask(
        id="train-then-evaluate",
        turns=("train segresnet for 2 epochs with patch size 48x48x16 and batch size 1", "evaluate it on the test set"),
        params={"model.name": "segresnet", "trainer.epochs": "2"},
        metrics=("test_dice",),
        max_llm_calls=8,
        tools=("train_model", "evaluate_run"),
    ),
    ScriptedTask(
        id="cldice-then-leaderboard",
        turns=("train segresnet for 1 epoch with clDice loss and patch size 48x48x16, then show the leaderboard",),
        params={"model.name": "segresnet", "trainer.epochs": "1", "loss.name": "dice_ce_cldice"},
        max_llm_calls=7,
        tools=("train_model", "leaderboard"),
    ),
    ScriptedTask(
        id="train-then-calibrate",
        turns=("train segresnet for 2 epochs with patch size 48x48x16 and batch size 1", "is it over-confident?"),
        params={"model.name": "segresnet", "trainer.epochs": "2"},
        metrics=("calibration_temperature", "test_ece_before", "test_ece"),
        max_llm_calls=8,
        tools=("train_model", "calibrate_run"),
    ),
    ScriptedTask(
        id="approve-then-train",
        turns=("train segresnet for 1 epoch with patch size 48x48x16 and batch size 1",),
        params={"model.name": "segresnet", "trainer.epochs": "1"},
        ask_first=True,
        max_llm_calls=4,
        tools=("train_model",),
    ),
)


def prepare_dataset(settings: Settings, seed: int = 0) -> Path:
    """The tiny dataset where `train_model` looks by default (HOME/data/synthetic)."""
    from minivess.pipelines.data.synthetic import SynthConfig, get_preset, write_dataset

    config = SynthConfig.model_validate({**get_preset("default").model_dump(), "shape": SHAPE})
    target = settings.resolved_data_dir / "synthetic"
    write_dataset(target, n=VOLUMES, config=config, seed=seed)
    return target


def mlflow_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every run in the home's tracking store: id, status, params, logged metric keys."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    return [
        {"run_id": r.info.run_id, "status": r.info.status, "params": dict(r.data.params),
         "metrics": sorted(r.data.metrics)}
        for r in client.search_runs(experiments)
    ]  # fmt: skip


def run_task(task: ScriptedTask, base: Settings, home: Path) -> dict[str, Any]:
    """Play one scripted chat in ``home``; the facts the scorers need."""
    settings = case_settings(base, home)
    if task.prepare_data:
        prepare_dataset(settings)
    chat = Conversation(settings)
    tic = time.perf_counter()
    turns: list[dict[str, Any]] = []  # the final state of each user turn
    spent = {"llm_calls": 0.0, "cost_usd": 0.0}
    paused_without_run: bool | None = None
    for index, text in enumerate(task.turns):
        ask = task.ask_first and index == 0
        turn = chat.send(text, auto_approve=not ask)
        if ask:
            paused_without_run = turn["status"] == "awaiting_approval" and not mlflow_runs(settings)
            if turn["status"] == "awaiting_approval":
                turn = chat.decide(True)  # the resumed request reports the whole turn (usage included)
        _add(spent, turn)
        turns.append(turn)
    seconds = time.perf_counter() - tic
    return {
        "status": turns[-1]["status"],
        "calls": [call for t in turns for call in t["calls"]],
        "answer": turns[-1]["answer"],
        "runs": mlflow_runs(settings),
        "paused_without_run": paused_without_run,
        "metrics": {**spent, "latency_s": round(seconds, 3)},
        "trace_ids": [t["trace_id"] for t in turns if t.get("trace_id")],
    }


def _add(spent: dict[str, float], turn: dict[str, Any]) -> None:
    for key in spent:
        spent[key] += float(turn["metrics"][key])


def _matching_run(output: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any] | None:
    for run in output.get("runs", []):
        params = run["params"]
        if run["status"] == "FINISHED" and all(params.get(k) == v for k, v in expected["params"].items()):
            return dict(run)
    return None


def outcome(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> scorers.ScoreDict:
    """1 when a FINISHED run has the requested params and metrics (and, for ``ask_first``, the chat paused for
    approval before any run existed)."""
    run = _matching_run(output, expected)
    problems = [] if run else [f"no FINISHED run with {expected['params']}"]
    if run:
        problems += [f"metric {m} not logged" for m in expected["metrics"] if m not in run["metrics"]]
    if expected["ask_first"] and not output.get("paused_without_run"):
        problems.append("did not stop for approval before training")
    return {"name": "outcome", "score": 0.0 if problems else 1.0, "metadata": {"problems": problems}}


def params(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> scorers.ScoreDict:
    """JSONDiff between the requested params and those of the closest run (1 = all as asked)."""
    runs = output.get("runs", [])
    if not runs:
        return {"name": "params", "score": 0.0}
    diff = JSONDiff()
    wanted = expected["params"]
    best = max(float(diff.eval(output={k: r["params"].get(k) for k in wanted}, expected=wanted).score) for r in runs)
    return {"name": "params", "score": best}


SCORERS: Final[tuple[Callable[..., scorers.ScoreDict], ...]] = (
    outcome,
    params,
    scorers.tool_choice,
    scorers.steps,
    scorers.latency,
    scorers.cost,
)


def eval_cases(tasks: tuple[ScriptedTask, ...]) -> list[EvalCase[Any, Any]]:
    return [
        EvalCase(
            input={"turns": list(task.turns), "prepare_data": task.prepare_data, "ask_first": task.ask_first},
            expected={
                "params": task.params,
                "metrics": list(task.metrics),
                "ask_first": task.ask_first,
                "calls": [{"tool": tool, "args": {}} for tool in task.tools],
                "max_llm_calls": task.max_llm_calls,
                "max_seconds": task.max_seconds,
                "max_cost_usd": MAX_COST_USD,
            },
            metadata={"case_id": task.id},
        )
        for task in tasks
    ]


def make_task(
    settings: Settings, workdir: tempfile.TemporaryDirectory[str]
) -> Callable[[dict[str, Any], EvalHooks[Any]], dict[str, Any]]:
    by_id = {task.id: task for task in TASKS}

    def task(input: dict[str, Any], hooks: EvalHooks[Any]) -> dict[str, Any]:
        name = case_id(hooks)
        root = Path(workdir.name)  # the task holds the temp dir: it lives as long as Braintrust may call the task
        root.mkdir(parents=True, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
        output = run_task(by_id[name], settings, home)
        record_trace(hooks, {"trace_id": (output["trace_ids"] or [None])[-1]}, home)
        return output

    return task


def build_suite(settings: Settings, *, limit: int | None = None) -> Suite:
    """The end-to-end suite (first ``limit`` tasks when given)."""
    tasks = TASKS[:limit]
    workdir = tempfile.TemporaryDirectory(prefix="minivess-evals-e2e-")
    definition = json.dumps([asdict(task) for task in tasks], sort_keys=True)
    return Suite(
        name="e2e",
        description="scripted chats that synthesise data and train SegResNet for real (tiny data, CPU)",
        data=lambda: eval_cases(tasks),
        task=make_task(settings, workdir),
        scorers=SCORERS,
        dataset_version=dataset_version(extra=definition),
        max_concurrency=1,  # training uses both cores
        resources=[workdir],
    )
