"""The experiment config: everything a training run needs, validated before anything is written."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt

from minivess.configs.data import DataConfig
from minivess.pipelines.tracking.naming import DEFAULT_EXPERIMENT


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("segresnet", description="Model adapter: segresnet, swinunetr or dynunet.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Adapter options (see `minivess models list`); validated by the adapter.",
    )
    grad_checkpointing: bool = Field(False, description="Trade compute for memory (adapters that support it).")


class LossConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["dice_ce", "dice_ce_cldice"] = Field("dice_ce", description="Dice+CE, or Dice+CE+soft-clDice.")
    cldice_weight: float = Field(0.5, ge=0.0, le=1.0, description="alpha of MONAI SoftDiceclDiceLoss.")
    cldice_iters: PositiveInt = Field(3, description="Soft-skeleton iterations (≈ max vessel radius in voxels).")


class OptimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["adamw", "sgd"] = Field("adamw", description="Optimiser.")
    lr: PositiveFloat = Field(1e-3, description="Peak learning rate.")
    weight_decay: float = Field(1e-5, ge=0.0, description="Weight decay.")
    momentum: float = Field(0.99, ge=0.0, lt=1.0, description="SGD momentum (nnU-Net uses 0.99).")
    schedule: Literal["cosine", "poly", "constant"] = Field("cosine", description="Per-epoch LR schedule.")
    warmup_epochs: int = Field(0, ge=0, description="Linear warm-up epochs before the schedule.")


class EarlyStoppingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field("val_dice", description="Validation metric that picks the best checkpoint.")
    patience: PositiveInt | None = Field(None, description="Stop after this many validations without gain.")
    min_delta: float = Field(0.0, ge=0.0, description="Smallest change that counts as a gain.")


class TrainerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epochs: PositiveInt = Field(2, description="Maximum epochs.")
    batch_size: PositiveInt = Field(1, description="Volumes per step (each gives data.samples_per_volume crops).")
    val_interval: PositiveInt = Field(1, description="Validate every N epochs (and always after the last).")
    max_minutes: PositiveFloat | None = Field(None, description="Wall-clock budget; ends cleanly after the epoch.")
    seed: int = Field(0, description="Seed for weights, sampling and augmentation.")
    device: str = Field("auto", description="auto (cuda → mps → cpu), cpu, cuda, cuda:N, mps.")
    amp: Literal["auto", "off", "bf16", "fp16"] = Field("auto", description="Mixed precision; auto = bf16 on CUDA.")
    deterministic: bool = Field(True, description="Deterministic algorithms where torch allows (slower on GPU).")
    keep_epoch_weights: int = Field(
        5,
        ge=0,
        description="Keep the weights of the last N validated epochs (the ingredients of a greedy soup); 0 = none.",
    )
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)


class InferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: float = Field(0.25, ge=0.0, lt=1.0, description="Sliding-window overlap.")
    mode: Literal["gaussian", "constant"] = Field("gaussian", description="Sliding-window blending.")
    sw_batch_size: PositiveInt = Field(2, description="Windows per forward pass.")
    nsd_tolerance_um: PositiveFloat = Field(2.0, description="NSD tolerance in µm.")


class TrackingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(DEFAULT_EXPERIMENT, description="MLflow experiment name.")
    run_name: str | None = Field(None, description="MLflow run name (default: generated).")
    register_as: str | None = Field(None, description="Register the best checkpoint under this model name.")


class ExperimentConfig(BaseModel):
    """A complete, validated training experiment."""

    model_config = ConfigDict(extra="forbid")

    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
