"""Ensembles of K finished runs, logged as runs of their own (family ``ensemble``).

Members must agree on what a prediction means: the same patch size and spacing (the sliding window and the
physical scale the networks learned), the same number of classes, and the same dataset version and test
split (otherwise a member's training volumes could be another's test volumes). The best member is chosen by
validation Dice, never by the test split it is compared on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from minivess.errors import ConfigError
from minivess.fileio import write_json_atomic
from minivess.pipelines import analytics
from minivess.pipelines.data.datasets import eval_dataset, eval_loader
from minivess.pipelines.data.nifti import write_nifti_atomic
from minivess.pipelines.models.ensemble import ENSEMBLE_ADAPTER, EnsembleNet, Strategy, variance_and_entropy
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.registry import MODEL_ARTIFACT
from minivess.pipelines.training.checkpoint import MODEL_SPEC, MODEL_WEIGHTS, ModelSpec
from minivess.pipelines.training.evaluation import OpenedRun, open_run, split_ids
from minivess.pipelines.training.inference import member_folder, predict_logits
from minivess.pipelines.uncertainty.derived_runs import create_derived_run
from minivess.pipelines.uncertainty.scoring import SplitScorer, best_logged, score_net, strip_prefix
from minivess.pipelines.uncertainty.temperature import vessel_probability
from minivess.settings import Settings

logger = logging.getLogger(__name__)

DERIVED_FAMILIES: Final = frozenset({ENSEMBLE_ADAPTER, "soup"})
UNCERTAINTY_DIR: Final = "uncertainty"


class EnsembleMemberReport(BaseModel):
    run_id: str
    family: str
    weight: float
    val_dice: float | None


class EnsembleReport(BaseModel):
    run_id: str
    strategy: str
    members: list[EnsembleMemberReport]
    test: dict[str, float]
    best_member: str
    best_member_test: dict[str, float]
    member_test: dict[str, dict[str, float]] = Field(default_factory=dict)
    uncertainty_maps: str


def top_runs(settings: Settings, k: int, family: str | None = None) -> list[str]:
    """The ids of the k best finished training runs by validation Dice (ensembles and soups excluded)."""
    board = analytics.leaderboard(
        naming.METRIC_VAL_DICE, by="none", limit=500, warehouse=analytics.Warehouse(settings=settings)
    )
    rows = [
        r
        for r in board.rows
        if (r.run.model_family or "") not in DERIVED_FAMILIES
        and (family is None or (r.run.model_family or "") == family)
    ]
    if len(rows) < k:
        scope = f"{family} " if family else ""
        raise ConfigError(
            f"asked for the {k} best {scope}runs but only {len(rows)} finished {scope}run(s) have val_dice."
        )
    return [str(r.run.run_id) for r in rows[:k]]


def check_compatible(runs: list[OpenedRun]) -> None:
    """Refuse members that disagree on patch size, spacing, classes, dataset version or test split."""
    if len({r.run_id for r in runs}) != len(runs):
        raise ConfigError("the same run is listed twice; an ensemble needs distinct runs.")
    first = runs[0]
    problems = []
    for run in runs[1:]:
        for what, a, b in (
            ("patch size", first.spec.patch_size, run.spec.patch_size),
            ("spacing (µm)", first.spec.spacing, run.spec.spacing),
            ("output classes", first.spec.out_channels, run.spec.out_channels),
            ("dataset version", first.manifest.version, run.manifest.version),
            ("test split", sorted(first.splits.test), sorted(run.splits.test)),
        ):
            if a != b:
                problems.append(f"{what}: {first.run_id[:8]} has {a}, {run.run_id[:8]} has {b}")
    if problems:
        raise ConfigError(
            "these runs cannot be ensembled, their models assume different inputs or data — "
            + "; ".join(problems)
            + ". Ensemble runs trained with the same patch size and spacing on the same dataset split."
        )


def build_ensemble(
    run_refs: list[str],
    settings: Settings,
    strategy: Strategy = "mean",
    on_volume: Callable[[str], None] | None = None,
) -> EnsembleReport:
    """Combine K runs, score the ensemble and each member on test, log the ensemble as a new run.

    Raises:
        ConfigError: Fewer than 2 runs, an ensemble or soup among the members, or incompatible members.
        DataError: The members' test split is empty.
    """
    if len(run_refs) < 2:
        raise ConfigError(f"an ensemble needs at least 2 runs, got {len(run_refs)}.")
    runs = [open_run(ref, settings) for ref in run_refs]
    nested = [r.run_id[:8] for r in runs if r.spec.adapter == ENSEMBLE_ADAPTER]
    if nested:
        raise ConfigError(f"run(s) {', '.join(nested)} are ensembles already; ensemble their members instead.")
    check_compatible(runs)
    val_dice = [best_logged(r.client, r.run_id) for r in runs]
    weights = [float(v) if v is not None and v > 0 else 0.0 for v in val_dice] if strategy == "weighted" else None
    if weights is not None and sum(weights) <= 0:
        raise ConfigError("a weighted ensemble needs members with a positive val_dice; use strategy 'mean'.")
    net = EnsembleNet([r.model for r in runs], strategy, weights).eval()
    source = runs[0]
    test_ids = split_ids(source, "test")
    tolerance = source.cfg.inference.nsd_tolerance_um
    ensemble_scores = SplitScorer(tolerance)
    member_scores = [SplitScorer(tolerance) for _ in runs]
    maps: dict[str, tuple[NDArray[Any], NDArray[Any], NDArray[Any]]] = {}
    for batch in eval_loader(eval_dataset(source.manifest, test_ids)):
        vid = str(batch["id"][0])
        label = batch["label"][0, 0].numpy().astype(bool)
        spacing = tuple(float(s) for s in np.asarray(batch["spacing"][0]))
        member_logits = [
            predict_logits(r.model, batch["image"], r.spec.patch_size, r.cfg.inference, r.device) for r in runs
        ]
        net_logits = predict_logits(net, batch["image"], source.spec.patch_size, source.cfg.inference, source.device)
        for scorer, logits in zip(member_scores, member_logits, strict=True):
            scorer.add(vid, vessel_probability(logits[0]), label, spacing)
        ensemble_scores.add(vid, vessel_probability(net_logits[0]), label, spacing)
        member_probs = [torch.softmax(logits, 1) for logits in member_logits]
        combined = torch.softmax(net_logits, 1)
        variance, entropy = variance_and_entropy(member_probs, combined)
        maps[vid] = (variance[0].numpy(), entropy[0].numpy(), np.asarray(batch["image"].affine[0]))
        if on_volume:
            on_volume(vid)
    test = ensemble_scores.summary("test")
    val = score_net(net, source, "val")
    members_test = {r.run_id: m.summary("test") for r, m in zip(runs, member_scores, strict=True)}
    best_index = max(range(len(runs)), key=lambda i: -np.inf if val_dice[i] is None else float(val_dice[i] or 0.0))
    spec = ModelSpec(
        adapter=ENSEMBLE_ADAPTER,
        options={
            "strategy": strategy,
            "n_members": len(runs),
            "members": [r.run_id for r in runs],
            "weights": weights,
        },
        in_channels=source.spec.in_channels,
        out_channels=source.spec.out_channels,
        patch_size=source.spec.patch_size,
        spacing=source.spec.spacing,
        intensity_percentiles=source.spec.intensity_percentiles,
    )

    def write_files(run_dir: Path) -> None:
        model_dir = run_dir / MODEL_ARTIFACT
        write_json_atomic(model_dir / MODEL_SPEC, spec)
        for i, run in enumerate(runs):
            target = member_folder(model_dir, i)
            target.mkdir(parents=True, exist_ok=True)
            for name in (MODEL_SPEC, MODEL_WEIGHTS):
                (target / name).write_bytes((run.folder / MODEL_ARTIFACT / name).read_bytes())
        for vid, (variance, entropy, affine) in maps.items():
            write_nifti_atomic(
                run_dir / UNCERTAINTY_DIR / f"{vid}_variance.nii.gz", variance.astype(np.float32), affine
            )
            write_nifti_atomic(run_dir / UNCERTAINTY_DIR / f"{vid}_entropy.nii.gz", entropy.astype(np.float32), affine)
        write_json_atomic(
            run_dir / "ensemble.json",
            {
                "strategy": strategy,
                "members": [r.run_id for r in runs],
                "weights": weights,
                "test": test,
                "member_test": members_test,
            },
        )

    params = {
        "ensemble.strategy": strategy,
        "ensemble.members": ",".join(r.run_id for r in runs),
        "ensemble.member_families": ",".join(r.spec.adapter for r in runs),
        "ensemble.weights": ",".join(f"{w:.4f}" for w in weights) if weights else "equal",
        "data.patch_size": str(list(source.spec.patch_size)),
    }
    run_id = create_derived_run(
        source,
        settings,
        family=ENSEMBLE_ADAPTER,
        variant=strategy,
        params=params,
        metrics={0: test, 1: val},
        write_files=write_files,
        artifact_dirs=(UNCERTAINTY_DIR,),
    )
    return EnsembleReport(
        run_id=run_id,
        strategy=strategy,
        members=[
            EnsembleMemberReport(
                run_id=r.run_id,
                family=r.spec.adapter,
                weight=(weights[i] / sum(weights)) if weights else 1.0 / len(runs),
                val_dice=val_dice[i],
            )
            for i, r in enumerate(runs)
        ],
        test=strip_prefix(test, "test"),
        best_member=runs[best_index].run_id,
        best_member_test=strip_prefix(members_test[runs[best_index].run_id], "test"),
        member_test={k: strip_prefix(v, "test") for k, v in members_test.items()},
        uncertainty_maps=str(settings.runs_dir / run_id / UNCERTAINTY_DIR),
    )
