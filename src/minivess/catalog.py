"""One source of facts about models and workers: tools, the registry, configs, evals and prompts read it.

Pure data (imports nothing of ours, nothing heavy), so the CLI, the agent and the pipelines can all use it.
The embedded planner does not import it: it learns the same facts from the tool schemas it is offered
(model enums, bounds, and the tool list in each transfer tool's description).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Worker = Literal["experimenter", "analyst"]


@dataclass(frozen=True)
class ModelEntry:
    """What the agent and the tools know about one model family.

    Attributes:
        name: The adapter's registry key (``pipelines/models/registry.py``) and the tools' enum value.
        adapter: ``module:Class`` of its `ModelAdapter`, imported only when a model is built.
        preset: The preset under ``configs/`` a request starts from.
        preset_epochs: Epochs that preset trains when the request gives none.
        cpu_seconds_per_epoch: Rough CPU seconds per epoch on the default synthetic data (2 cores, measured):
            decides whether training needs approval and charges the request's compute budget.
        summary: One line for prompts, `models list` and the tool schema.
    """

    name: str
    adapter: str
    preset: str
    preset_epochs: int
    cpu_seconds_per_epoch: float
    summary: str


MODELS: Final[dict[str, ModelEntry]] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "segresnet",
            "minivess.pipelines.models.segresnet:SegResNetAdapter",
            "segresnet_tiny",
            2,
            8.0,
            "residual encoder-decoder CNN; fast on CPU",
        ),
        ModelEntry(
            "swinunetr",
            "minivess.pipelines.models.swinunetr:SwinUNETRAdapter",
            "swinunetr_small",
            10,
            120.0,
            "Swin-transformer encoder; patch sides multiples of 32; slow on CPU",
        ),
        ModelEntry(
            "dynunet",
            "minivess.pipelines.models.dynunet:DynUNetAdapter",
            "dynunet_nnunet",
            20,
            20.0,
            "nnU-Net-style U-Net planned from patch size and spacing",
        ),
    )
}
MODEL_NAMES: Final[tuple[str, ...]] = tuple(MODELS)
DEFAULT_MODEL: Final = "segresnet"

# Worker → the tools it offers. Every tool belongs to exactly one worker (a contract test checks the registry).
WORKER_TOOLS: Final[dict[Worker, tuple[str, ...]]] = {
    "experimenter": (
        "train_model",
        "evaluate_run",
        "predict_volume",
        "promote_model",
        "synthesize_data",
        "dataset_info",
        "calibrate_run",
        "conformal_calibrate",
        "build_ensemble",
        "greedy_soup",
        "quality_gate",
        "find_label_issues",
        "queue_for_review",
        "review_status",
        "import_reviews",
        "start_search",
        "search_status",
    ),
    "analyst": (
        "leaderboard",
        "compare_runs",
        "get_run",
        "learning_curves",
        "failure_summary",
        "param_effect",
        "query_runs",
        "describe_warehouse",
        "model_card",
        "check_drift",
    ),
}
WORKERS: Final[tuple[Worker, ...]] = tuple(WORKER_TOOLS)
WORKER_DUTIES: Final[dict[Worker, str]] = {
    "experimenter": (
        "training, evaluation, prediction, promotion, data, calibration, conformal masks, ensembles, soups, "
        "weight checks, the label-review loop and model searches"
    ),
    "analyst": "run analytics, model cards and data drift checks",
}


def worker_for(tool_name: str) -> Worker:
    """The worker that offers a tool.

    Raises:
        KeyError: No worker offers it.
    """
    for worker, names in WORKER_TOOLS.items():
        if tool_name in names:
            return worker
    raise KeyError(tool_name)


def model_entry(name: str) -> ModelEntry:
    """The catalog entry of a model family.

    Raises:
        KeyError: Not a catalogued model.
    """
    return MODELS[name]
