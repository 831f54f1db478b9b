"""One search trial as a Ray Tune class trainable: one `step()` = one epoch of the normal training engine.

Each trial is an ordinary MLflow training run (child of the search's parent run), so the warehouse and the
leaderboard see it. Stepping epochs lets ASHA stop a weak trial between epochs; `cleanup()` then finishes the
run properly (best model exported, artifacts logged, stop reason recorded) instead of leaving it RUNNING.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from ray import tune

from minivess import catalog
from minivess.pipelines.search.context import SCORE, TrialContext, experiment_values
from minivess.pipelines.tracking import naming

logger = logging.getLogger(__name__)


class SearchTrial(tune.Trainable):
    """Ray Tune trainable around `runs.start_training` / `Trainer.next_epoch` / `runs.finish_training`."""

    def setup(self, config: dict[str, Any], context: TrialContext) -> None:  # type: ignore[override]
        import torch

        from minivess.configs.loading import load_experiment
        from minivess.pipelines.training import runs
        from minivess.settings import Settings

        torch.set_num_threads(context.threads)
        self.context = context
        self.settings = Settings(home=context.home, mlflow_tracking_uri=context.tracking_uri, device=context.device)
        self.reason: str | None = None
        self.finished = False
        number = int(config["trial_number"])
        family = str(config["family"])
        cfg = load_experiment(catalog.model_entry(family).preset, values=experiment_values(config, context))
        import ray

        tags = {
            "minivess.search.ray_gcs": str(ray.get_runtime_context().gcs_address),  # which Ray cluster ran it
            naming.TAG_PARENT_RUN: context.parent_run_id,
            naming.TAG_SEARCH_ID: context.search_id,
            naming.TAG_SEARCH_TRIAL: str(number),
        }
        self.trainer = runs.start_training(cfg, self.settings, None, tags)
        self.trainer.begin()

    def step(self) -> dict[str, Any]:
        from minivess.pipelines.training.engine import wrap_failure

        try:
            metrics, reason = self.trainer.next_epoch()
        except BaseException as exc:
            self.finished = True
            raise wrap_failure(self.trainer.recorder, exc) from exc
        self.reason = reason
        best = self.trainer.progress.best_metric
        return {
            SCORE: best if best is not None and math.isfinite(best) else 0.0,
            "val_cldice": metrics.get(naming.METRIC_VAL_CLDICE, float("nan")),
            "val_dice": metrics.get(naming.METRIC_VAL_DICE, float("nan")),
            "epoch": self.trainer.progress.epoch,
            "run_id": self.trainer.recorder.run_id,
            "done": reason is not None,
        }

    def cleanup(self) -> None:
        """Finish the MLflow run: normally, after ASHA or the budget stopped it, or as KILLED before epoch 1."""
        if self.finished or not hasattr(self, "trainer"):
            return
        self.finished = True
        from minivess.pipelines.training import runs

        recorder = self.trainer.recorder
        if self.trainer.progress.epoch == 0:
            recorder.set_tags({naming.TAG_ERROR: "stopped before its first epoch ended (search budget)"})
            recorder.finish("KILLED")
            return
        try:
            # No reason of its own: ASHA stopped it, the search's time budget ran out, or Ctrl-C.
            runs.finish_training(self.trainer, self.reason or "stopped_by_search", self.settings)
        except Exception as exc:  # never leave the run RUNNING
            logger.exception("finishing trial run %s failed", recorder.run_id)
            recorder.fail(exc)
