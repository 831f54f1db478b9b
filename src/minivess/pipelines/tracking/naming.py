"""Names shared by everything that writes or reads MLflow runs (engine, analytics, tools)."""

from __future__ import annotations

from typing import Final

DEFAULT_EXPERIMENT: Final = "minivess"
DEFAULT_REGISTERED_MODEL: Final = "minivess-segmenter"

# Tags on every training run.
TAG_MODEL_FAMILY: Final = "minivess.model_family"  # "segresnet" | "swinunetr" | "dynunet"
TAG_LOSS: Final = "minivess.loss"  # "dice_ce" | "dice_ce_cldice"
TAG_DATA_VERSION: Final = "minivess.data_version"  # manifest hash (first 12 hex chars)
TAG_DVC_VERSION: Final = "minivess.dvc_version"  # DVC dir md5 (12 hex); absent when the dataset is untracked
TAG_RUN_KIND: Final = "minivess.run_kind"  # "train" | "evaluate"
TAG_ERROR: Final = "minivess.error"  # "<ExceptionType>: message" on FAILED runs
TAG_BEST_EPOCH: Final = "minivess.best_epoch"
TAG_GIT_COMMIT: Final = "mlflow.source.git.commit"
TAG_TRACE_ID: Final = "minivess.trace_id"  # the trace (local store / Langfuse) that started the run
TAG_RUN_NUMBER: Final = "minivess.run_number"  # per-experiment counter in generated run names (run_names.py)
# Trained on a reviewed dataset version (pipelines/annotation/reviews.py writes its lineage.json):
LINEAGE_FILE: Final = "lineage.json"
TAG_PARENT_DATA_VERSION: Final = "minivess.parent_data_version"
TAG_REVIEW_IDS: Final = "minivess.review_ids"  # Label Studio annotation ids the dataset version applied
MAX_REVIEW_IDS_TAG: Final = 4000  # characters; longer lists are summarised (MLflow limits tag values to 8000)
# Model search (pipelines/search): the parent "search" run and its trial runs.
TAG_SEARCH_ID: Final = "minivess.search_id"
TAG_SEARCH_TRIAL: Final = "minivess.search.trial"  # the Optuna trial number of a trial run
TAG_PARENT_RUN: Final = "mlflow.parentRunId"  # MLflow's own nesting tag

# Per-epoch metrics (step = epoch, 1-based). Validation metrics are means over validation volumes.
METRIC_TRAIN_LOSS: Final = "train_loss"
METRIC_VAL_DICE: Final = "val_dice"
METRIC_VAL_CLDICE: Final = "val_cldice"
METRIC_VAL_NSD: Final = "val_nsd"
METRIC_VAL_HD95: Final = "val_hd95"
METRIC_LR: Final = "lr"
METRIC_EPOCH_SECONDS: Final = "epoch_seconds"
VAL_METRICS: Final = (METRIC_VAL_DICE, METRIC_VAL_CLDICE, METRIC_VAL_NSD, METRIC_VAL_HD95)

# Calibration (pipelines/uncertainty): the fitted softmax temperature (latest value wins; evaluate and predict
# apply it) and per-split calibration metrics (<split>_ece etc., foreground region unless named _volume).
METRIC_TEMPERATURE: Final = "calibration_temperature"
CALIBRATION_METRICS: Final = ("ece", "mce", "brier", "nll", "ece_volume")
_CALIBRATED_KEYS: Final = frozenset(
    f"{split}_{name}{suffix}"
    for split in ("train", "val", "test")
    for name in CALIBRATION_METRICS
    for suffix in ("", "_before")
)

# Metrics where lower is better; every other metric is maximised.
LOWER_IS_BETTER: Final = frozenset(
    {METRIC_TRAIN_LOSS, METRIC_VAL_HD95, "test_hd95", METRIC_EPOCH_SECONDS, *_CALIBRATED_KEYS}
)

# Params are the flattened experiment config with dotted keys, e.g. "model.name", "optim.lr",
# "trainer.epochs", "loss.name", "data.patch_size".
