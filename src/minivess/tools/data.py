"""Data tools: synthesise a dataset, summarise a dataset folder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import ConfigError, DataError, ToolInputError
from minivess.tools.base import ToolContext, tool
from minivess.tools.datasets import dataset_folder

SynthPreset = Literal["default", "small", "minivess", "shifted", "noisy_labels"]


class SynthesizeDataArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(12, ge=1, le=500, description="Number of volumes.")
    shape: list[int] | None = Field(None, min_length=3, max_length=3, description="Volume size [X, Y, Z] in voxels.")
    seed: int = Field(0, description="Seed; the same seed gives identical files.")
    preset: SynthPreset = Field("default", description="Generator preset (shifted = domain shift for drift checks).")
    name: str = Field(
        "synthetic", pattern=r"^[A-Za-z0-9_.-]+$", description="Dataset name: the folder under the data directory."
    )
    label_noise: bool = Field(False, description="Corrupt some masks and write a ledger of what changed.")


class SynthesizeDataResult(BaseModel):
    path: str
    n: int
    shape: list[int]
    preset: str


def _data_path(args: SynthesizeDataArgs, ctx: ToolContext) -> Path:
    return ctx.settings.resolved_data_dir / args.name


def _overwrite(args: SynthesizeDataArgs, ctx: ToolContext) -> str | None:
    target = _data_path(args, ctx)
    if (target / "raw").is_dir():
        return f"overwrites the existing dataset at {target}"
    return None


@tool("synthesize_data", SynthesizeDataArgs, SynthesizeDataResult, needs_approval=_overwrite)
def synthesize_data(args: SynthesizeDataArgs, ctx: ToolContext) -> SynthesizeDataResult:
    """Generate a synthetic two-photon vessel dataset (images, masks, skeletons) in the data directory."""
    from minivess.pipelines.data.synthetic import LabelNoiseConfig, SynthConfig, get_preset, write_dataset

    base = get_preset(args.preset)
    updates: dict[str, object] = {}
    if args.shape:
        updates["shape"] = tuple(args.shape)
    if args.label_noise and base.label_noise is None:
        updates["label_noise"] = LabelNoiseConfig().model_dump()
    try:
        config = SynthConfig.model_validate({**base.model_dump(), **updates})
    except ValueError as exc:
        raise ToolInputError(f"synthesize_data: {exc}") from exc
    target = _data_path(args, ctx)
    write_dataset(
        target,
        n=args.n,
        config=config,
        seed=args.seed,
        on_volume=lambda i, p: ctx.progress({"event": "volume", "index": i, "total": args.n}),
    )
    from minivess.pipelines.governance import lineage
    from minivess.pipelines.governance.versions import record_quietly

    with lineage.job_run(ctx.settings, "synthesise") as job:
        version = record_quietly(ctx.settings, target, "synth")
        job.outputs(lineage.dataset_name(version.dataset, version.version) if version else f"dataset/{target.name}")
    return SynthesizeDataResult(path=str(target), n=args.n, shape=list(config.shape), preset=args.preset)


class DatasetInfoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(
        None, description="Dataset folder (raw/ + seg/) or a dataset's name; default: the synthetic dataset."
    )


class DatasetVolume(BaseModel):
    id: str
    shape: list[int]
    spacing: list[float]
    vessel_fraction: float


class DatasetInfoResult(BaseModel):
    path: str
    version: str
    n_volumes: int
    volumes: list[DatasetVolume]


@tool("dataset_info", DatasetInfoArgs, DatasetInfoResult)
def dataset_info(args: DatasetInfoArgs, ctx: ToolContext) -> DatasetInfoResult:
    """Validate a dataset folder and list its volumes with shape, spacing (µm) and vessel fraction."""
    from minivess.pipelines.data.manifest import scan_dataset

    folder = dataset_folder(args.path, ctx) if args.path else ctx.settings.resolved_data_dir / "synthetic"
    try:
        manifest = scan_dataset(folder)
    except (DataError, ConfigError) as exc:
        raise ToolInputError(f"dataset_info: {exc}") from exc
    volumes = [
        DatasetVolume(id=v.id, shape=list(v.shape), spacing=list(v.spacing), vessel_fraction=v.vessel_fraction)
        for v in manifest.volumes
    ]
    return DatasetInfoResult(path=str(manifest.root), version=manifest.version, n_volumes=len(volumes), volumes=volumes)
