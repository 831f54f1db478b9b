"""Greedy model soup (Wortsman et al. 2022, "Model soups", Algorithm 1) over one run's epoch checkpoints.

Ingredients are sorted by their logged validation Dice, best first; the soup starts as the best ingredient and
each next one is kept only if averaging it in does not lower validation Dice. Weight averaging only works for
checkpoints that share an initialisation and a loss basin — the epochs of one run here. Soups of runs trained
from scratch separately are known to fail (the averaged weights land between basins), so they are refused.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import mlflow
import torch
from mlflow.exceptions import MlflowException
from pydantic import BaseModel

from minivess.errors import ConfigError, DataError
from minivess.pipelines.models.ensemble import ENSEMBLE_ADAPTER
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.registry import MODEL_ARTIFACT
from minivess.pipelines.training.checkpoint import EPOCHS_DIR, epoch_weights_path, export_model, saved_epochs
from minivess.pipelines.training.evaluation import OpenedRun, open_run
from minivess.pipelines.training.inference import build_model
from minivess.pipelines.uncertainty.derived_runs import create_derived_run
from minivess.pipelines.uncertainty.scoring import score_net, strip_prefix
from minivess.settings import Settings

logger = logging.getLogger(__name__)

SOUP_FAMILY = "soup"
State = dict[str, torch.Tensor]


class SoupReport(BaseModel):
    run_id: str
    source_run: str
    ingredients: list[int]
    kept: list[int]
    val_dice_best_ingredient: float
    val_dice_soup: float
    test: dict[str, float]


def average_states(states: Sequence[State]) -> State:
    """Uniform average of floating-point tensors; integer buffers (e.g. BatchNorm counters) come from the first."""
    first = states[0]
    out: State = {}
    for key, value in first.items():
        if value.is_floating_point():
            out[key] = torch.stack([s[key].float() for s in states]).mean(dim=0).to(value.dtype)
        else:
            out[key] = value.clone()
    return out


def refuse_unrelated(run_refs: Sequence[str]) -> None:
    """A soup is made from one run: several runs were each trained from scratch, so refuse them."""
    if len(run_refs) > 1:
        raise ConfigError(
            f"cannot make a soup of {len(run_refs)} separate runs ({', '.join(run_refs)}): each was trained from "
            "scratch, and averaging the weights of independently initialised networks does not work (Wortsman et "
            "al. 2022 soup fine-tunes of one pretrained model). Make a soup of one run's epoch checkpoints, or "
            "ensemble the runs instead (their predictions, not their weights)."
        )


def epoch_folder(run: OpenedRun) -> Path:
    """The run's ``epochs/`` weights, downloaded next to its other files when the run is not local."""
    if saved_epochs(run.folder):
        return run.folder
    target = Path(tempfile.mkdtemp(prefix=".epochs-", dir=run.folder))
    try:
        mlflow.artifacts.download_artifacts(
            run_id=run.run_id, artifact_path=EPOCHS_DIR, dst_path=str(target), tracking_uri=None
        )
        if not (run.folder / EPOCHS_DIR).exists():
            (target / EPOCHS_DIR).replace(run.folder / EPOCHS_DIR)
    except MlflowException:
        pass  # no epoch weights logged: reported below
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return run.folder


def greedy_soup(
    run_ref: str | Sequence[str],
    settings: Settings,
    on_step: Callable[[int], None] | None = None,
) -> SoupReport:
    """Greedy soup of a run's validated epochs, logged as a new run (family ``soup``).

    Raises:
        ConfigError: Several runs, an ensemble, or fewer than 2 saved epochs.
        DataError: The run has no validation split.
    """
    refs = [run_ref] if isinstance(run_ref, str) else list(run_ref)
    refuse_unrelated(refs)
    run = open_run(refs[0], settings)
    if run.spec.adapter == ENSEMBLE_ADAPTER:
        raise ConfigError(f"run {run.run_id} is an ensemble; a soup averages the epochs of one training run.")
    if not run.splits.val:
        raise DataError(f"run {run.run_id} has no validation split; a greedy soup chooses ingredients on it.")
    folder = epoch_folder(run)
    epochs = saved_epochs(folder)
    if len(epochs) < 2:
        raise ConfigError(
            f"run {run.run_id} kept the weights of {len(epochs)} validated epoch(s); a soup needs at least 2. "
            "Train for 2 or more epochs with trainer.keep_epoch_weights >= 2 (default 5)."
        )
    logged = {m.step: m.value for m in run.client.get_metric_history(run.run_id, naming.METRIC_VAL_DICE)}
    order = sorted(epochs, key=lambda e: -logged.get(e, float("-inf")))
    states = {e: torch.load(epoch_weights_path(folder, e), map_location="cpu", weights_only=True) for e in order}
    net = build_model(run.spec).to(run.device).eval()

    def val_dice(state: State) -> tuple[float, dict[str, float]]:
        net.load_state_dict(state)
        summary = score_net(net, run, "val")
        return summary[naming.METRIC_VAL_DICE], summary

    kept = [order[0]]
    best_ingredient, summary = val_dice(states[order[0]])
    current = best_ingredient
    if on_step:
        on_step(order[0])
    for epoch in order[1:]:
        score, candidate_summary = val_dice(average_states([states[e] for e in [*kept, epoch]]))
        if on_step:
            on_step(epoch)
        if score >= current:
            kept.append(epoch)
            current, summary = score, candidate_summary
    soup_state = average_states([states[e] for e in kept])
    net.load_state_dict(soup_state)
    test = score_net(net, run, "test")

    def write_files(run_dir: Path) -> None:
        export_model(run_dir / MODEL_ARTIFACT, run.spec, soup_state)

    run_id = create_derived_run(
        run,
        settings,
        family=SOUP_FAMILY,
        variant="greedy",
        params={
            "soup.source_run": run.run_id,
            "soup.source_family": run.spec.adapter,
            "soup.ingredients": ",".join(str(e) for e in order),
            "soup.kept_epochs": ",".join(str(e) for e in kept),
            "data.patch_size": str(list(run.spec.patch_size)),
        },
        metrics={0: test, 1: summary},
        write_files=write_files,
    )
    return SoupReport(
        run_id=run_id,
        source_run=run.run_id,
        ingredients=order,
        kept=kept,
        val_dice_best_ingredient=best_ingredient,
        val_dice_soup=current,
        test=strip_prefix(test, "test"),
    )
