"""Model and data cards from a tiny trained, evaluated and registered run (real MLflow, real files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from minivess.errors import DataError, MinivessError
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.synthetic import LabelNoiseConfig, get_preset, write_dataset
from minivess.pipelines.governance.cards import MITCHELL_SECTIONS, TAG_MODEL_CARD, data_card, model_card
from minivess.settings import Settings
from tests.integration.conftest import tiny_overrides

EVIL_NAME = "<script>alert('x')</script>"


@dataclass(frozen=True)
class CardRun:
    settings: Settings
    run_id: str
    data_dir: Path


@pytest.fixture(scope="module")
def card_run(tmp_path_factory: pytest.TempPathFactory) -> CardRun:
    """A 1-epoch SegResNet on five 48×48×16 volumes, evaluated on test, registered as champion (~15 s)."""
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.naming import DEFAULT_REGISTERED_MODEL
    from minivess.pipelines.tracking.registry import register_run_model
    from minivess.pipelines.training import runs
    from minivess.pipelines.training.evaluation import evaluate_run

    root = tmp_path_factory.mktemp("cards")
    data_dir = root / "data"
    write_dataset(data_dir, n=5, config=get_preset("default").model_copy(update={"shape": (48, 48, 16)}), seed=0)
    settings = Settings(home=root / "home")
    result = runs.train(load_experiment(None, tiny_overrides(data_dir, epochs=1)), settings)
    evaluate_run(result.run_id, settings, split="test")
    client = client_for(settings.tracking_uri)
    client.update_run(result.run_id, name=EVIL_NAME)
    register_run_model(client, result.run_id, DEFAULT_REGISTERED_MODEL, alias="champion")
    return CardRun(settings, result.run_id, data_dir)


def test_model_card_has_every_mitchell_section_and_mlflow_metrics(card_run: CardRun) -> None:
    from minivess.pipelines.tracking.mlflow_run import client_for

    card = model_card(card_run.settings, "champion")
    text = card.markdown.read_text()
    for section in MITCHELL_SECTIONS:
        assert f"\n## {section}\n" in text, section
    recorded = client_for(card_run.settings.tracking_uri).get_run(card_run.run_id).data.metrics
    assert card.metrics == recorded
    assert "test_dice" in recorded and f"{recorded['test_dice']:.4g}" in text
    assert card.run_id == card_run.run_id and card.version == "1" and card.aliases == ["champion"]
    assert card.markdown.parent == card_run.settings.home_dir / "cards" / "minivess-segmenter-v1"
    assert "**synthetic** data" in text and "Not for clinical use" in text
    assert "5 volume(s)" in text and "patch size `32,32,16`" in text


def test_missing_calibration_is_stated_then_filled_by_calibrate(card_run: CardRun) -> None:
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.uncertainty.run_calibration import calibrate_run

    before = model_card(card_run.settings, card_run.run_id[:8], attach=False)
    assert "not calibrated" in before.markdown.read_text() and "minivess calibrate RUN" in before.markdown.read_text()
    assert "calibration" in before.missing and before.temperature is None
    report = calibrate_run(card_run.run_id, card_run.settings)
    after = model_card(card_run.settings, card_run.run_id, attach=False)
    metrics = client_for(card_run.settings.tracking_uri).get_run(card_run.run_id).data.metrics
    assert after.temperature == metrics["calibration_temperature"] == pytest.approx(report.temperature)
    assert after.test_ece_before == metrics["test_ece_before"]
    assert "calibration" not in after.missing and "not calibrated" not in after.markdown.read_text()


def test_html_escapes_a_malicious_run_name(card_run: CardRun) -> None:
    card = model_card(card_run.settings, "champion", attach=False)
    html = card.html.read_text()
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<table>" in html and "<style>" in html  # tables rendered, CSS inline


def test_card_is_attached_to_the_registered_version(card_run: CardRun) -> None:
    from minivess.pipelines.tracking.mlflow_run import client_for

    card = model_card(card_run.settings, "minivess-segmenter@1")
    client = client_for(card_run.settings.tracking_uri)
    logged = {Path(a.path).name for a in client.list_artifacts(card_run.run_id, "cards")}
    assert logged == {"model_card.md", "model_card.html", "model_card.json"}
    version = client.get_model_version("minivess-segmenter", "1")
    assert version.tags[TAG_MODEL_CARD] == card.artifact_path == "cards/model_card.md"


def test_bad_reference_is_one_error(card_run: CardRun) -> None:
    with pytest.raises(MinivessError, match="no run"):
        model_card(card_run.settings, "nosuchrun")
    with pytest.raises(MinivessError, match="no version"):
        model_card(card_run.settings, "minivess-segmenter@7")


def test_data_card_counts_equal_the_manifest(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    folder = settings.resolved_data_dir / "noisy"
    config = get_preset("default").model_copy(update={"shape": (32, 32, 16), "label_noise": LabelNoiseConfig()})
    write_dataset(folder, n=3, config=config, seed=4)
    manifest = scan_dataset(folder)
    card = data_card(settings, "noisy")  # a name under the data dir
    assert card.volumes == len(manifest.volumes) == 3
    assert card.manifest_version == manifest.version
    assert card.shapes == {"32×32×16": 3}
    fractions = [v.vessel_fraction for v in manifest.volumes]
    assert card.vessel_fraction_min == min(fractions) and card.vessel_fraction_max == max(fractions)
    assert card.synthetic and not card.reviewed
    text = card.markdown.read_text()
    for section in ("Summary", "Authorship and provenance", "Dataset composition", "Collection and synthesis process",
                    "Annotation and labeling", "Versions", "Intended uses", "Known limitations"):  # fmt: skip
        assert f"\n## {section}\n" in text, section
    assert "label noise injected" in text and "dataset seed `4`" in text
    assert not any(p.name.startswith("data_card") for p in folder.iterdir())  # the dataset folder is only read
    assert "<table>" in card.html.read_text()


def test_data_card_of_a_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no dataset 'nope'"):
        data_card(Settings(home=tmp_path / "home"), "nope")


def test_audit_entries_and_dataset_versions_are_shown(card_run: CardRun) -> None:
    """Real audit entries and a real DVC version of the run's data end up in the card (and only the relevant ones)."""
    from minivess.pipelines.governance import audit
    from minivess.pipelines.governance.versions import record_version

    settings = card_run.settings
    audit.append(settings, "promotion", "minivess-segmenter v1 → champion", reason="best val clDice <b>so far</b>",
                 actor="ana")  # fmt: skip
    audit.append(settings, "promotion", "other run", reason="not about this model", run_id="f" * 32, actor="ana")
    audit.append(settings, "approval", f"run {card_run.run_id}", reason="approved | reviewed", run_id=card_run.run_id,
                 actor="ana")  # fmt: skip
    # The approval node's entry: no run field, the tool call's arguments name a unique prefix of the run.
    prefix8, prefix5 = card_run.run_id[:8], card_run.run_id[:5]
    audit.append(settings, "approval", "promote_model: moves the 'champion' alias", reason="beats v1",
                 details={"tool": "promote_model", "arguments": {"run_id": prefix8}}, actor="bo")  # fmt: skip
    audit.append(settings, "rejection", "promote_model: other", reason="a 5-char prefix is no evidence",
                 details={"tool": "promote_model", "arguments": {"run_id": prefix5}}, actor="bo")  # fmt: skip
    recorded = record_version(settings, card_run.data_dir, "synth")  # also appends a dataset_version entry

    card = model_card(card_run.settings, "champion", attach=False)
    assert card.audit_entries == 3
    assert card.approvals == [
        "promotion by ana: best val clDice <b>so far</b>",
        "approval by ana: approved | reviewed",
        "approval by bo: beats v1",
    ]
    text, html = card.markdown.read_text(), card.html.read_text()
    assert "not about this model" not in text and f"`{recorded.version}`" in text
    assert "<b>" not in html and "&lt;b&gt;so far&lt;/b&gt;" in html
    assert "audit trail" not in card.missing and "dataset versions" not in card.missing
