"""MONAI SwinUNETR adapter: Swin-transformer encoder with a CNN decoder (MONAI 1.6 API, no img_size)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Literal

import torch
from monai.networks.nets.swin_unetr import SwinUNETR
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from minivess.pipelines.models.base import (
    DEFAULT_PATCH,
    DEFAULT_SPACING,
    Patch3,
    Spacing3,
    UniformPatchMixin,
    ensure_options,
    parse_options_for,
)

logger = logging.getLogger(__name__)

# MONAI embeds 2x2x2 tokens and merges four times: inputs must be divisible by 2**5.
SWIN_PATCH_MULTIPLE: Final = 32
STAGES: Final = 4


class SwinUNETROptions(BaseModel):
    """Options of the SwinUNETR adapter (Hatamizadeh et al. 2022; MONAI ``SwinUNETR``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature_size: PositiveInt = Field(
        default=12,
        description="Embedding width of the first stage; a multiple of 12. 12 (~4.1 M parameters) keeps CPU "
        "runs short; MONAI's default 24 has ~15.7 M and the paper's 48 suits GPUs.",
    )
    depths: tuple[PositiveInt, ...] = Field(
        default=(2, 2, 2, 2),
        min_length=STAGES,
        max_length=STAGES,
        description="Swin transformer blocks in each of the 4 stages.",
    )
    num_heads: tuple[PositiveInt, ...] = Field(
        default=(3, 6, 12, 24),
        min_length=STAGES,
        max_length=STAGES,
        description="Attention heads per stage; stage i has feature_size * 2**i channels, which each "
        "head count must divide.",
    )
    window_size: PositiveInt = Field(
        default=7,
        description="Local attention window (tokens per axis); MONAI clips it to small feature maps.",
    )
    drop_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Dropout rate in the transformer.")
    attn_drop_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Attention dropout rate.")
    dropout_path_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Stochastic depth (drop path) rate.")
    norm: Literal["instance", "batch"] = Field(
        default="instance", description="Normalisation in the convolutional encoder/decoder blocks."
    )
    use_v2: bool = Field(
        default=False,
        description="SwinUNETR-V2: a residual convolution block at the start of each Swin stage.",
    )

    @field_validator("feature_size")
    @classmethod
    def _multiple_of_12(cls, value: int) -> int:
        """MONAI raises on any other width; say which valid widths are closest."""
        if value % 12:
            lower = value - value % 12
            hint = f"{lower} or {lower + 12}" if lower >= 12 else "12"
            raise ValueError(f"feature_size must be a multiple of 12 (MONAI SwinUNETR); got {value}: try {hint}")
        return value

    @model_validator(mode="after")
    def _heads_divide_width(self) -> SwinUNETROptions:
        """Each stage splits its channels evenly across heads."""
        for stage, heads in enumerate(self.num_heads):
            width = self.feature_size * 2**stage
            if width % heads:
                raise ValueError(
                    f"num_heads[{stage}]={heads} does not divide stage {stage}'s {width} channels "
                    f"(feature_size * 2**{stage}); pick a divisor of {width}, e.g. {3 * 2**stage}"
                )
        return self


class SwinUNETRAdapter(UniformPatchMixin):
    """Adapter for MONAI's SwinUNETR; gradient checkpointing maps to MONAI's ``use_checkpoint``."""

    name: str = "swinunetr"
    family: str = "transformer"
    description: str = "MONAI SwinUNETR: Swin-transformer encoder + CNN decoder; needs patches divisible by 32"
    supports_grad_checkpointing: bool = True
    options_model: type[BaseModel] = SwinUNETROptions

    def parse_options(self, raw: Mapping[str, Any]) -> SwinUNETROptions:
        """Validate raw options.

        Args:
            raw: Option names to values, e.g. ``{"feature_size": 24}``.

        Returns:
            The validated options.

        Raises:
            ConfigError: naming the bad field and its allowed values.
        """
        return parse_options_for(self.name, SwinUNETROptions, raw)

    def patch_multiple(self, options: BaseModel) -> int:
        """Always 32 (patch embedding 2 and four 2x merges)."""
        ensure_options(self.name, options, SwinUNETROptions)
        return SWIN_PATCH_MULTIPLE

    def build(
        self,
        options: BaseModel,
        in_channels: int = 1,
        out_channels: int = 2,
        grad_checkpointing: bool = False,
        *,
        patch_size: Patch3 = DEFAULT_PATCH,
        spacing: Spacing3 = DEFAULT_SPACING,
    ) -> torch.nn.Module:
        """Build a 3D SwinUNETR.

        Args:
            options: Result of ``parse_options``.
            in_channels: Input channels.
            out_channels: Output channels (logits).
            grad_checkpointing: Passed to MONAI as ``use_checkpoint`` (checkpoints each Swin block).
            patch_size: Training patch; validated, not needed to build.
            spacing: Ignored.

        Returns:
            The network.

        Raises:
            ConfigError: if the patch does not fit.
        """
        opts = ensure_options(self.name, options, SwinUNETROptions)
        self.validate_patch(patch_size, opts)
        model: torch.nn.Module = SwinUNETR(
            in_channels=in_channels,
            out_channels=out_channels,
            depths=opts.depths,
            num_heads=opts.num_heads,
            window_size=opts.window_size,
            feature_size=opts.feature_size,
            norm_name=opts.norm,
            drop_rate=opts.drop_rate,
            attn_drop_rate=opts.attn_drop_rate,
            dropout_path_rate=opts.dropout_path_rate,
            use_checkpoint=grad_checkpointing,
            spatial_dims=3,
            use_v2=opts.use_v2,
        )
        logger.debug("built %s (grad_checkpointing=%s) with %s", self.name, grad_checkpointing, opts)
        return model
