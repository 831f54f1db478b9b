"""MONAI SegResNet adapter: the CPU-friendly default network (~1.2 M parameters at init_filters=8)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import torch
from monai.networks.nets.segresnet import SegResNet
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
from torch.utils.checkpoint import checkpoint

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


class SegResNetOptions(BaseModel):
    """Options of the SegResNet adapter (MONAI ``SegResNet``, Myronenko 2018, without the VAE branch)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    init_filters: PositiveInt = Field(
        default=8,
        description="Channels after the first convolution; doubled at each level. 8 (~1.2 M parameters) "
        "suits CPU; 16 or 32 for GPU training.",
    )
    blocks_down: tuple[PositiveInt, ...] = Field(
        default=(1, 2, 2, 4),
        min_length=2,
        description="Residual blocks per encoder level; its length sets the depth (patch multiple 2**(len-1)).",
    )
    blocks_up: tuple[PositiveInt, ...] = Field(
        default=(1, 1, 1),
        min_length=1,
        description="Residual blocks per decoder level; must have len(blocks_down) - 1 entries.",
    )
    dropout_prob: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout after the first convolution; 0 disables it.",
    )
    norm: Literal["instance", "batch"] = Field(
        default="instance",
        description="Feature normalisation; instance norm is robust to the small batches used on CPU.",
    )
    upsample_mode: Literal["nontrainable", "deconv"] = Field(
        default="nontrainable",
        description="Decoder upsampling: trilinear interpolation ('nontrainable') or transposed "
        "convolution ('deconv').",
    )

    @model_validator(mode="after")
    def _levels_match(self) -> SegResNetOptions:
        """The decoder mirrors the encoder, so it needs exactly one level fewer."""
        if len(self.blocks_up) != len(self.blocks_down) - 1:
            wanted = len(self.blocks_down) - 1
            raise ValueError(
                f"blocks_up needs len(blocks_down) - 1 = {wanted} entries, got {len(self.blocks_up)}; "
                f"try blocks_up={(1,) * wanted}"
            )
        return self


class CheckpointedSegResNet(SegResNet):
    """SegResNet whose encoder and decoder levels recompute activations in backward.

    Same parameters and state-dict keys as ``SegResNet``, so weights move freely between the two.
    Checkpointing is applied only while autograd records, so inference is unchanged.
    """

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encoder of MONAI's SegResNet with each level checkpointed."""
        x = self.convInit(x)
        if self.dropout_prob is not None:
            x = self.dropout(x)
        down_x: list[torch.Tensor] = []
        for down in self.down_layers:
            x = _maybe_checkpoint(down, x)
            down_x.append(x)
        return x, down_x

    def decode(self, x: torch.Tensor, down_x: list[torch.Tensor]) -> torch.Tensor:
        """Decoder of MONAI's SegResNet with each level's residual blocks checkpointed."""
        for i, (up, upl) in enumerate(zip(self.up_samples, self.up_layers, strict=True)):
            x = up(x) + down_x[i + 1]
            x = _maybe_checkpoint(upl, x)
        if self.use_conv_final:
            x = self.conv_final(x)
        return x


def _maybe_checkpoint(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run ``block`` under non-reentrant checkpointing when gradients are being recorded."""
    if torch.is_grad_enabled() and x.requires_grad:
        out: torch.Tensor = checkpoint(block, x, use_reentrant=False)
        return out
    result: torch.Tensor = block(x)
    return result


class SegResNetAdapter(UniformPatchMixin):
    """Adapter for MONAI's SegResNet."""

    name: str = "segresnet"
    family: str = "cnn"
    description: str = "MONAI SegResNet: residual encoder-decoder CNN; light and fast, the CPU default"
    supports_grad_checkpointing: bool = True
    options_model: type[BaseModel] = SegResNetOptions

    def parse_options(self, raw: Mapping[str, Any]) -> SegResNetOptions:
        """Validate raw options.

        Args:
            raw: Option names to values, e.g. ``{"init_filters": 16}``.

        Returns:
            The validated options.

        Raises:
            ConfigError: naming the bad field and its allowed values.
        """
        return parse_options_for(self.name, SegResNetOptions, raw)

    def patch_multiple(self, options: BaseModel) -> int:
        """Total downsampling factor, ``2 ** (len(blocks_down) - 1)``."""
        opts = ensure_options(self.name, options, SegResNetOptions)
        return int(2 ** (len(opts.blocks_down) - 1))

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
        """Build a 3D SegResNet.

        Args:
            options: Result of ``parse_options``.
            in_channels: Input channels.
            out_channels: Output channels (logits).
            grad_checkpointing: Recompute each encoder/decoder level in backward to save memory.
            patch_size: Training patch; validated, not needed to build.
            spacing: Ignored (SegResNet is isotropic).

        Returns:
            The network.

        Raises:
            ConfigError: if the patch does not fit.
        """
        opts = ensure_options(self.name, options, SegResNetOptions)
        self.validate_patch(patch_size, opts)
        cls = CheckpointedSegResNet if grad_checkpointing else SegResNet
        model: torch.nn.Module = cls(
            spatial_dims=3,
            init_filters=opts.init_filters,
            in_channels=in_channels,
            out_channels=out_channels,
            dropout_prob=opts.dropout_prob or None,
            norm=opts.norm,
            blocks_down=opts.blocks_down,
            blocks_up=opts.blocks_up,
            upsample_mode=opts.upsample_mode,
        )
        logger.debug("built %s (grad_checkpointing=%s) with %s", self.name, grad_checkpointing, opts)
        return model
