"""Model cards (Mitchell et al. 2019) for a run or registered version, from recorded sources only.

The card is written as Markdown, HTML and JSON under ``HOME/cards/<model>-v<version>/`` (or ``run-<id>/``) and,
when the run is registered, attached to the version: logged as artifacts under ``cards/`` on its run, with the
model-version tag ``minivess.model_card`` naming the Markdown artifact. Data cards live in ``data_card.py``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from mlflow.entities import Run
from pydantic import BaseModel, Field

from minivess.fileio import write_json_atomic, write_text_atomic
from minivess.pipelines.governance import card_render as md
from minivess.pipelines.governance import card_sources as src
from minivess.pipelines.governance import model_card_text as sections
from minivess.pipelines.governance.data_card import DataCard, data_card, resolve_dataset
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import client_for
from minivess.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["DataCard", "ModelCard", "data_card", "model_card", "resolve_dataset"]

CARDS_DIR: Final = "cards"
TAG_MODEL_CARD: Final = "minivess.model_card"
MODEL_CARD_MD, MODEL_CARD_HTML, MODEL_CARD_JSON = "model_card.md", "model_card.html", "model_card.json"
MITCHELL_SECTIONS: Final = (
    "Model details",
    "Intended use",
    "Factors",
    "Metrics",
    "Evaluation data",
    "Training data",
    "Quantitative analyses",
    "Ethical considerations",
    "Caveats and recommendations",
)


class ModelCard(BaseModel):
    """The key facts of a model card (the Markdown has them all) and where its files are."""

    run_id: str
    run_name: str | None
    model_family: str | None
    registered_model: str | None
    version: str | None
    aliases: list[str]
    data_version: str | None = Field(description="manifest hash of the training data (minivess.data_version)")
    dvc_version: str | None
    metrics: dict[str, float] = Field(description="the run's MLflow metrics (latest value of each)")
    best_val_dice: float | None
    best_epoch: int | None
    rank: str | None = Field(description="'3 of 12' on the val_dice leaderboard, if the warehouse ranks it")
    temperature: float | None
    test_ece_before: float | None
    test_ece_after: float | None
    conformal_thresholds: dict[str, float] = Field(description="alpha → conformal FNR threshold")
    audit_entries: int
    approvals: list[str] = Field(description="'kind by actor: reason' for each audit entry about this model")
    missing: list[str] = Field(description="sources that were absent (the card says how to produce them)")
    markdown: Path
    html: Path
    json_path: Path
    artifact_path: str | None = Field(description="MLflow artifact path of the Markdown card on the run")
    created_at: str


def model_card(settings: Settings, ref: str = "champion", out: Path | None = None, attach: bool = True) -> ModelCard:
    """Write the model card of ``ref`` and attach it to the registered version (if registered and ``attach``).

    Args:
        settings: Where the tracking store and the home are.
        ref: ``champion[:<model>]``, ``challenger[:<model>]``, ``<model>@<version|alias>``, or a run id,
            unique prefix or ``last``.
        out: Folder for the files; default ``HOME/cards/<model>-v<version>`` or ``HOME/cards/run-<id8>``.
        attach: Log the files on the run under ``cards/`` and tag the model version.

    Raises:
        TrackingError, TrainingError: ``ref`` matches no version or run.
    """
    client = client_for(settings.tracking_uri)
    target = src.resolve_target(client, ref)
    run = client.get_run(target.run_id)
    facts = _gather(client, settings, target, run)
    folder = out or settings.home_dir / CARDS_DIR / _folder_name(target)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    text = sections.render(facts, created)
    title = f"Model card: {facts['title']}"
    card = _card(facts, folder, created)
    write_text_atomic(folder / MODEL_CARD_MD, text)
    write_text_atomic(folder / MODEL_CARD_HTML, md.to_html(text, title))
    if attach:
        card.artifact_path = f"{CARDS_DIR}/{MODEL_CARD_MD}"
    write_json_atomic(folder / MODEL_CARD_JSON, card.model_dump(mode="json"))
    if attach:
        for name in (MODEL_CARD_MD, MODEL_CARD_HTML, MODEL_CARD_JSON):
            client.log_artifact(target.run_id, str(folder / name), CARDS_DIR)
        if target.registered_model and target.version:
            client.set_model_version_tag(target.registered_model, target.version, TAG_MODEL_CARD, card.artifact_path)
    logger.info("model card of %s written to %s", target.run_id, folder)
    return card


def _folder_name(target: src.ModelTarget) -> str:
    if target.registered_model and target.version:
        return f"{target.registered_model}-v{target.version}"
    return f"run-{target.run_id[:8]}"


def _gather(client: Any, settings: Settings, target: src.ModelTarget, run: Run) -> dict[str, Any]:
    tags, params, metrics = run.data.tags, run.data.params, dict(run.data.metrics)
    data_version, dvc_version = tags.get(naming.TAG_DATA_VERSION), tags.get(src.TAG_DVC_VERSION)
    best = src.best_of(client, target.run_id, naming.METRIC_VAL_DICE)
    title = f"{target.registered_model} v{target.version}" if target.registered_model else f"run {target.run_id[:8]}"
    return {
        "title": title,
        "target": target,
        "run": run,
        "tags": tags,
        "params": params,
        "metrics": metrics,
        "best": best,
        "rank": src.rank(settings, target.run_id),
        "data_version": data_version,
        "dvc_version": dvc_version,
        "versions": src.dataset_versions(settings, data_version, dvc_version),
        "audit": src.audit_entries(settings, target),
        "evaluations": src.evaluations(client, settings, target.run_id),
        "manifest": src.manifest_of(client, settings, target.run_id),
        "conformal": src.conformal(run),
        "synthetic": src.synthetic_source(params.get("data.dir")),
        "missing": [],
    }


def _card(facts: dict[str, Any], folder: Path, created: str) -> ModelCard:
    target: src.ModelTarget = facts["target"]
    run: Run = facts["run"]
    metrics: dict[str, float] = facts["metrics"]
    best, ranked = facts["best"], facts["rank"]
    audit = facts["audit"] or []
    return ModelCard(
        run_id=target.run_id,
        run_name=run.info.run_name,
        model_family=facts["tags"].get(naming.TAG_MODEL_FAMILY),
        registered_model=target.registered_model,
        version=target.version,
        aliases=target.aliases,
        data_version=facts["data_version"],
        dvc_version=facts["dvc_version"],
        metrics=metrics,
        best_val_dice=best[0] if best else None,
        best_epoch=best[1] if best else None,
        rank=f"{ranked[0]} of {ranked[1]}" if ranked else None,
        temperature=metrics.get(naming.METRIC_TEMPERATURE),
        test_ece_before=metrics.get("test_ece_before"),
        test_ece_after=metrics.get("test_ece") if naming.METRIC_TEMPERATURE in metrics else None,
        conformal_thresholds={a: v["threshold"] for a, v in facts["conformal"].items() if "threshold" in v},
        audit_entries=len(audit),
        approvals=[f"{e.kind} by {e.actor}: {e.reason or 'no reason given'}" for e in audit],
        missing=list(facts["missing"]),
        markdown=folder / MODEL_CARD_MD,
        html=folder / MODEL_CARD_HTML,
        json_path=folder / MODEL_CARD_JSON,
        artifact_path=None,
        created_at=created,
    )
