"""`minivess data`: synthesise vessel volumes, summarise a dataset, make splits.

Pipelines are imported inside the commands so `minivess --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from minivess.cli import render
from minivess.errors import ConfigError

app = typer.Typer(help="Create, inspect and split datasets (MinIVess layout: raw/ + seg/).", no_args_is_help=True)

PRESET_NAMES = "default, small, minivess, shifted, noisy_labels"


@app.command("synth")
def synth(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (MinIVess layout)."),
    n: int = typer.Option(12, "--n", min=1, help="Number of volumes."),
    shape: tuple[int, int, int] | None = typer.Option(None, "--shape", help="X Y Z voxels (default: the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Seed; the same seed gives byte-identical files."),
    preset: str = typer.Option("default", "--preset", help=f"Generator preset: {PRESET_NAMES}."),
    label_noise: bool = typer.Option(False, "--label-noise", help="Corrupt masks; write a ledger of what changed."),
) -> None:
    """Generate synthetic two-photon vessel volumes with masks and centreline skeletons."""
    from pydantic import ValidationError

    from minivess.pipelines.data.synthetic import LabelNoiseConfig, SynthConfig, get_preset, write_dataset

    base = get_preset(preset)
    updates: dict[str, Any] = {}
    if shape is not None:
        updates["shape"] = shape
    if label_noise and base.label_noise is None:
        updates["label_noise"] = LabelNoiseConfig().model_dump()
    try:  # model_validate, not model_copy: the new values must be validated
        config = SynthConfig.model_validate({**base.model_dump(), **updates})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid generator settings — {problems}") from exc
    with render.progress() as bar:
        task = bar.add_task("synthesising", total=n, status="")
        write_dataset(
            out, n=n, config=config, seed=seed, on_volume=lambda i, p: bar.update(task, advance=1, status=p.name)
        )
    render.console.print(f"[green]wrote {n} volume(s) to {out}[/] (preset {preset}, seed {seed})")
    from minivess.cli.context import get_settings
    from minivess.pipelines.governance import lineage as ol
    from minivess.pipelines.governance.versions import record_quietly

    settings = get_settings()
    with ol.job_run(settings, "synthesise") as job:
        version = record_quietly(settings, out, "synth")
        job.outputs(ol.dataset_name(version.dataset, version.version) if version else f"dataset/{out.name}")
    if version:
        render.console.print(f"dataset version {version.dataset}@{version.version} recorded (DVC)")


def derived_dir(kind: str, folder: Path, version: str) -> Path:
    """Where files derived from a dataset go: under the home, never inside the dataset (read-only to us)."""
    from minivess.cli.context import get_settings

    return get_settings().home_dir / kind / f"{folder.expanduser().resolve().name}-{version}"


@app.command("info")
def info(
    folder: Path = typer.Argument(..., help="Dataset folder (raw/ + seg/); read only, never written."),
    mip_dir: Path | None = typer.Option(
        None, "--out", "--mip-dir", help="Where to write MIP PNGs (default HOME/mip/<folder>-<version>)."
    ),
    no_mip: bool = typer.Option(False, "--no-mip", help="Skip the MIP PNGs."),
) -> None:
    """Validate a dataset and show shapes, spacing and vessel fraction; write a MIP PNG per volume."""
    from minivess.pipelines.data.manifest import scan_dataset
    from minivess.pipelines.data.summary import summarise_dataset

    with render.progress() as bar:
        manifest = scan_dataset(folder)
        task = bar.add_task("summarising", total=len(manifest.volumes), status="")
        rows = summarise_dataset(
            manifest,
            None if no_mip else (mip_dir or derived_dir("mip", folder, manifest.version)),
            on_volume=lambda v: bar.update(task, advance=1, status=v),
        )
    render.console.print(render.dataset_table(manifest.root, manifest.version, rows))


@app.command("split")
def split(
    folder: Path = typer.Argument(..., help="Dataset folder (raw/ + seg/)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Splits JSON (default HOME/splits/<folder>-<version>/splits.json)."
    ),
    val_fraction: float = typer.Option(0.2, help="Share of volumes for validation."),
    test_fraction: float = typer.Option(0.2, help="Share of volumes for testing."),
    seed: int = typer.Option(0, help="Split seed."),
    k: int | None = typer.Option(None, "--k", help="Write k cross-validation folds instead."),
) -> None:
    """Write a deterministic train/val/test (or k-fold) split of a dataset as JSON."""
    from minivess.fileio import write_json_atomic
    from minivess.pipelines.data.manifest import scan_dataset
    from minivess.pipelines.data.splits import make_kfold, make_splits

    manifest = scan_dataset(folder)
    target = out or derived_dir("splits", folder, manifest.version) / ("kfold.json" if k else "splits.json")
    if k:
        write_json_atomic(target, make_kfold(manifest.ids(), manifest.version, k=k, seed=seed))
    else:
        splits = make_splits(manifest.ids(), manifest.version, val_fraction, test_fraction, seed)
        splits.save(target)
        render.console.print(f"train {len(splits.train)} · val {len(splits.val)} · test {len(splits.test)}")
    render.console.print(f"[green]wrote {target}")


@app.command("card")
def card(
    dataset: str = typer.Argument(..., help="Dataset folder, or a dataset name under the data dir."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for the card (default HOME/cards/data-…)."),
    as_json: bool = typer.Option(False, "--json", help="Print the card's key facts as JSON."),
) -> None:
    """Write a data card (composition, provenance, labeling, versions, limits) as Markdown and HTML."""
    from minivess.cli.cards import data_card

    data_card(dataset, out=out, as_json=as_json)


DRIFT_EXIT = 1


@app.command("drift")
def drift(
    reference: str = typer.Argument(..., help="Reference dataset (folder or name), e.g. the training data."),
    current: str = typer.Argument(..., help="The new dataset to check against it."),
    model: str | None = typer.Option(
        None, "--model", help="Also compare this run's predictions (vessel fraction, mean entropy): id, 'champion'…"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Per-volume features (intensity percentiles, SNR, vessel fraction, spacing, shape) compared with Evidently.

    With --model, the model's predicted vessel fraction and mean predictive entropy on each volume are compared
    too. Exit 0: no drift (or too few volumes to tell: said in yellow); 1: drift detected; 2: an error.
    """
    import sys

    from minivess.cli.context import get_settings
    from minivess.pipelines.governance.drift import compare_datasets

    with render.console.status("computing per-volume features and drift tests…"):
        result = compare_datasets(get_settings(), reference, current, model)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        rows = [(f.name, f.test, "—" if f.p_value is None else f"{f.p_value:.4g}", "DRIFT" if f.drifted else "", f.note)
                for f in result.features]  # fmt: skip
        title = f"{result.n_reference} reference vs {result.n_current} current volumes (p < {result.threshold:.4g})"
        render.console.print(render.records_table(title, ["feature", "test", "p-value", "", "note"], rows))
        if result.report_html:
            render.console.print(f"report: {result.report_html}")
    if not result.sufficient:
        why = next((f.note for f in result.features if f.note.startswith("too few")), "too few volumes")
        render.err_console.print(f"[yellow]no verdict on the tested features: {why}")
    if result.drifted:
        render.err_console.print(f"[red]drift detected in {', '.join(result.drifted_features)}")
        raise typer.Exit(DRIFT_EXIT)
    if result.sufficient:
        render.console.print("[green]no drift detected")


def _governance_commands() -> None:
    from minivess.cli import lineage

    app.command("versions")(lineage.versions)
    app.command("add")(lineage.add)


_governance_commands()
