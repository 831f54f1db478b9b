"""The Markdown of a model card: Mitchell et al. (2019) sections filled from gathered facts.

Facts come from ``cards._gather``; a section whose source is absent says so and how to produce it, and the
absence is appended to ``facts["missing"]``. Numbers are the recorded values, never estimates.
"""

from __future__ import annotations

from typing import Any, Final

from minivess.pipelines.governance.card_render import code, missing, number, table, text
from minivess.pipelines.tracking import naming

INTENDED_USE: Final = (
    "Research use only: automated segmentation of blood vessels in 3D two-photon fluorescence microscopy "
    "volumes of rodent cortical microvasculature (MinIVess-like data), to support quantitative vascular "
    "analysis by researchers who review the masks. **Not for clinical use**: it is not a medical device, was "
    "not validated for diagnosis, treatment or any decision about a patient, and carries no regulatory clearance."
)
OUT_OF_SCOPE: Final = (
    "Out of scope: other modalities (CT, MRI, light-sheet, electron microscopy), other tissues or species "
    "without re-validation, voxel spacings far outside the training range, and any unsupervised use of the masks "
    "without an expert looking at them."
)
FACTORS: Final = (
    "Performance is expected to vary with imaging depth (signal falls and noise rises with depth), vessel "
    "calibre (capillaries of 1–2 voxels are hardest), signal-to-noise ratio, voxel spacing and anisotropy, "
    "motion and staining artefacts, and the annotator who drew the reference masks. The per-volume table under "
    "Quantitative analyses is the finest breakdown recorded."
)
METRICS_TEXT: Final = (
    "Dice (voxel overlap), clDice (centreline overlap: topology), NSD (normalised surface Dice at the run's "
    "tolerance in µm) and HD95 (95th-percentile Hausdorff distance in µm; lower is better), each a mean over "
    "volumes. Calibration: ECE/MCE/Brier/NLL of the vessel probability on the vessel region. Conformal: the "
    "threshold controlling the expected false-negative rate (missed vessel voxels) at level alpha."
)
ETHICS: Final = (
    "No human data. Animal imaging data (if real MinIVess volumes were used) come from a published dataset "
    "collected under its own animal-care approvals. Risks: over-trust in automated masks in downstream "
    "biological conclusions; label bias of a single annotator; synthetic training data may not reflect real "
    "pathology. Keep a human reviewer in the loop and report the model version with results."
)
CAVEATS: Final = (
    "Small training sets give wide uncertainty on every number here; re-evaluate on your own data before relying "
    "on the model; calibrate (`minivess calibrate RUN`) before reading probabilities as frequencies; run a drift "
    "check (`minivess data drift REFERENCE NEW`) when the acquisition changes."
)
SHOWN_PARAMS: Final = (
    "model.name",
    "loss.name",
    "trainer.epochs",
    "trainer.batch_size",
    "optim.name",
    "optim.lr",
    "data.patch_size",
    "data.samples_per_volume",
    "data.val_fraction",
    "data.test_fraction",
    "seed",
)


def render(facts: dict[str, Any], created: str) -> str:
    """The whole card as Markdown."""
    parts = [
        f"# Model card: {text(facts['title'])}",
        f"Generated {text(created)} from MLflow, the run's files, the warehouse, dataset versions and the audit "
        "trail. Sources that were absent are stated as such.",
        _details(facts),
        _audit(facts),
        "## Intended use\n\n" + INTENDED_USE + "\n\n" + OUT_OF_SCOPE + _use_facts(facts),
        "## Factors\n\n" + FACTORS,
        "## Metrics\n\n" + METRICS_TEXT,
        _evaluation_data(facts),
        _training_data(facts),
        _quantitative(facts),
        "## Ethical considerations\n\n" + ETHICS,
        "## Caveats and recommendations\n\n" + CAVEATS + _caveat_facts(facts),
    ]
    return "\n\n".join(parts) + "\n"


def _use_facts(facts: dict[str, Any]) -> str:
    """What this model saw in training: the inputs it is meant for."""
    manifest, params = facts["manifest"], facts["params"]
    if manifest is None or not manifest.volumes:
        return ""
    spacing = [s for v in manifest.volumes for s in v.spacing]
    kind = "synthetic" if facts["synthetic"] is not None else "non-synthetic"
    return (
        f"\n\n**This model** was trained on {len(manifest.volumes)} {kind} volume(s) with voxel spacing "
        f"{number(min(spacing))}–{number(max(spacing))} µm and patch size {code(params.get('data.patch_size', '?'))}: "
        "use it on inputs like these."
    )


def _details(facts: dict[str, Any]) -> str:
    target, run, tags, params = facts["target"], facts["run"], facts["tags"], facts["params"]
    rows = [
        ("Registered model", code(target.registered_model) if target.registered_model else "not registered"),
        ("Version", text(target.version) if target.version else "—"),
        ("Aliases", ", ".join(code(a) for a in target.aliases) or "none"),
        ("MLflow run", code(target.run_id)),
        ("Run name", text(run.info.run_name or "—")),
        ("Status", text(run.info.status)),
        ("Model family", text(tags.get(naming.TAG_MODEL_FAMILY, "—"))),
        ("Loss", text(tags.get(naming.TAG_LOSS, "—"))),
        ("Git commit", code(tags[naming.TAG_GIT_COMMIT]) if naming.TAG_GIT_COMMIT in tags else "not recorded"),
        ("Trace", code(tags[naming.TAG_TRACE_ID]) if naming.TAG_TRACE_ID in tags else "not traced"),
    ]
    rows += [(code(k), code(params[k])) for k in SHOWN_PARAMS if k in params]
    return "## Model details\n\n" + table(["field", "value"], ([a, b] for a, b in rows))


def _audit(facts: dict[str, Any]) -> str:
    entries = facts["audit"]
    head = "## Approvals and audit trail\n\n"
    if entries is None:
        facts["missing"].append("audit trail")
        return head + missing("no audit trail", "the audit module is not available in this installation.")
    if not entries:
        facts["missing"].append("audit entries")
        return head + missing("no audit entries", "nothing about this run or version was recorded (promote it "
                              "with approval to record who and why).")  # fmt: skip
    rows = [
        [text(e.seq), text(e.time), text(e.kind), text(e.subject), text(e.actor), text(e.reason or "—")]
        for e in entries
    ]
    return head + table(["#", "time (UTC)", "kind", "subject", "who", "why"], rows)


def _evaluation_data(facts: dict[str, Any]) -> str:
    evaluations, manifest = facts["evaluations"], facts["manifest"]
    head = "## Evaluation data\n\n"
    if not evaluations:
        facts["missing"].append("evaluation")
        return head + missing("not evaluated", "run `minivess evaluate RUN` for per-volume test metrics.")
    lines = []
    for split, report in evaluations.items():
        volumes = report.get("volumes", {})
        lines.append(f"- split {code(split)}: {len(volumes)} volume(s): " + ", ".join(code(v) for v in volumes))
    if manifest is not None:
        lines.append(f"- drawn from the training dataset (manifest {code(manifest.version)}) by the run's splits")
    return head + "\n".join(lines)


def _training_data(facts: dict[str, Any]) -> str:
    manifest, params, synthetic = facts["manifest"], facts["params"], facts["synthetic"]
    head = "## Training data\n\n"
    lines = [f"- dataset folder: {code(params.get('data.dir', 'not recorded'))}"]
    lines.append(f"- manifest version: {code(facts['data_version'] or 'not recorded')}")
    lines.append(_dvc_line(facts))
    if synthetic is not None:
        preset = synthetic.get("preset")
        lines.append(
            f"- **synthetic** data: generator {code(synthetic.get('generator_version'))}, seed "
            f"{code(synthetic.get('seed'))}, preset {code(preset) if preset else 'not recorded'}"
        )
    elif manifest is not None and manifest.volumes and all(v.id.startswith("synth_") for v in manifest.volumes):
        lines.append("- **synthetic** data by its volume ids (the generator's dataset.json is no longer there)")
    else:
        lines.append("- real (non-synthetic) volumes: no generator dataset.json in the training folder")
    if manifest is None:
        facts["missing"].append("manifest")
        lines.append(missing("no manifest", "the run has no manifest.json (was it trained by minivess?)."))
    else:
        shapes = sorted({"×".join(map(str, v.shape)) for v in manifest.volumes})
        spacing = [s for v in manifest.volumes for s in v.spacing]
        lines.append(f"- {len(manifest.volumes)} volume(s); shapes {', '.join(code(s) for s in shapes)}")
        if spacing:
            lines.append(f"- voxel spacing {number(min(spacing))}–{number(max(spacing))} µm")
    lines.append(f"- patch size {code(params.get('data.patch_size', 'not recorded'))}")
    if facts["tags"].get(naming.TAG_PARENT_DATA_VERSION):
        parent = facts["tags"][naming.TAG_PARENT_DATA_VERSION]
        lines.append(f"- a reviewed version of dataset {code(parent)} (Label Studio corrections applied)")
    if facts["tags"].get(naming.TAG_REVIEW_IDS):
        lines.append(f"- reviewed labels: annotation ids {code(facts['tags'][naming.TAG_REVIEW_IDS][:200])}")
    return head + "\n".join(lines)


def _dvc_line(facts: dict[str, Any]) -> str:
    versions = facts["versions"]
    if versions is None:
        facts["missing"].append("dataset versions")
        return f"- DVC version: {code(facts['dvc_version'] or 'not recorded')} (no dataset-version registry)"
    if not versions:
        facts["missing"].append("dataset version record")
        return (
            f"- DVC version: {code(facts['dvc_version'] or 'not recorded')}; no recorded dataset version matches "
            "(record one with `minivess data add FOLDER`)"
        )
    shown = "; ".join(f"{code(v.version)} ({text(v.source)}, {v.files} files, {text(v.created_at)})" for v in versions)
    return f"- DVC dataset version(s): {shown}"


def _quantitative(facts: dict[str, Any]) -> str:
    metrics, best, ranked = facts["metrics"], facts["best"], facts["rank"]
    parts = ["## Quantitative analyses"]
    perf = {k: v for k, v in sorted(metrics.items()) if not k.startswith(("conformal_", "calibration_"))}
    if perf:
        parts.append(table(["metric (MLflow, latest)", "value"], ([code(k), number(v)] for k, v in perf.items())))
    if best:
        parts.append(f"Best {code('val_dice')} over epochs: {number(best[0])} at epoch {best[1]}.")
    if ranked:
        parts.append(f"Rank on the warehouse {code('val_dice')} leaderboard: {ranked[0]} of {ranked[1]} runs.")
    else:
        parts.append("Leaderboard rank: not ranked (no finished run with val_dice in the warehouse).")
    parts.append(_calibration(facts))
    parts.append(_conformal(facts))
    parts.append(_per_volume(facts))
    return "\n\n".join(p for p in parts if p)


def _calibration(facts: dict[str, Any]) -> str:
    metrics, params = facts["metrics"], facts["params"]
    if naming.METRIC_TEMPERATURE not in metrics:
        facts["missing"].append("calibration")
        return "### Calibration\n\n" + missing("not calibrated", "run `minivess calibrate RUN`.")
    rows = [["temperature", "1", number(metrics[naming.METRIC_TEMPERATURE])]]
    for name in ("ece", "mce", "brier", "nll"):
        before, after = metrics.get(f"test_{name}_before"), metrics.get(f"test_{name}")
        if before is not None or after is not None:
            rows.append([f"test {name.upper()}", number(before), number(after)])
    fit = params.get("calibration.fit_split", "val")
    return f"### Calibration (fitted on {text(fit)}, measured on test)\n\n" + table(
        ["quantity", "before (T = 1)", "after"], rows
    )


def _conformal(facts: dict[str, Any]) -> str:
    found = facts["conformal"]
    if not found:
        facts["missing"].append("conformal")
        return "### Conformal FNR control\n\n" + missing("no conformal threshold", "run `minivess conformal RUN`.")
    rows = [
        [code(alpha), number(v.get("threshold")), number(v.get("temperature")), number(v.get("n_calibration")),
         number(v.get("test_fnr"))]
        for alpha, v in found.items()
    ]  # fmt: skip
    return "### Conformal FNR control\n\n" + table(
        ["alpha", "threshold", "at temperature", "calibration volumes", "test FNR (mean)"], rows
    )


def _per_volume(facts: dict[str, Any]) -> str:
    report = facts["evaluations"].get("test")
    if not report or not report.get("volumes"):
        return ""
    volumes: dict[str, dict[str, Any]] = report["volumes"]
    keys = [k for k in ("dice", "cldice", "nsd", "hd95") if any(k in m for m in volumes.values())]
    rows = [[code(v)] + [number(m.get(k)) for k in keys] for v, m in volumes.items()]
    return "### Per-volume test metrics\n\n" + table(["volume", *keys], rows)


def _caveat_facts(facts: dict[str, Any]) -> str:
    manifest = facts["manifest"]
    notes = []
    if manifest is not None and len(manifest.volumes) < 20:
        notes.append(f"trained on only {len(manifest.volumes)} volume(s)")
    if facts["synthetic"] is not None:
        notes.append("trained on synthetic volumes: validate on real two-photon data before use")
    return ("\n\n**For this model:** " + "; ".join(notes) + ".") if notes else ""
