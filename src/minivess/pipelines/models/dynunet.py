"""MONAI DynUNet adapter with nnU-Net-style planning of kernels and strides from patch size and spacing."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from monai.networks.nets.dynunet import DynUNet
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from minivess.errors import ConfigError
from minivess.pipelines.models.base import (
    DEFAULT_PATCH,
    DEFAULT_SPACING,
    Patch3,
    Spacing3,
    ensure_options,
    parse_options_for,
    reject_grad_checkpointing,
)

logger = logging.getLogger(__name__)

# DynUNet needs an input block, at least one downsampling block and a (downsampling) bottleneck.
MIN_LEVELS = 2


class DynUNetOptions(BaseModel):
    """Options of the DynUNet adapter (MONAI ``DynUNet``, Isensee et al. nnU-Net)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filters_base: PositiveInt = Field(
        default=16,
        description="Channels of the first level, doubled at each level (16, 32, 64, ...) up to max_filters. "
        "nnU-Net uses 32; 16 halves the CPU cost.",
    )
    max_filters: PositiveInt = Field(default=320, description="Cap on channels per level (nnU-Net's 320).")
    min_size: PositiveInt = Field(
        default=4,
        description="Smallest feature-map edge: an axis is halved only while it is at least 2 * min_size.",
    )
    max_depth: int = Field(default=5, ge=MIN_LEVELS, le=8, description="Most downsampling levels the planner may use.")
    deep_supervision: bool = Field(
        default=False,
        description="Add deep-supervision heads. In training mode the output is then stacked as "
        "(B, 1 + deep_supr_num, C, X, Y, Z) instead of (B, C, X, Y, Z); eval mode is unchanged.",
    )
    deep_supr_num: PositiveInt = Field(
        default=1,
        description="Deep-supervision heads (used only with deep_supervision); fewer than the planned depth.",
    )
    res_block: bool = Field(default=False, description="Residual convolution blocks instead of plain ones.")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="Dropout in every block; 0 disables it.")
    norm: Literal["instance", "batch"] = Field(
        default="instance", description="Normalisation (instance norm with affine weights, as in nnU-Net)."
    )


class DynUNetPlan(BaseModel):
    """Kernels and strides planned for one patch and spacing; can be written as a JSON artifact."""

    model_config = ConfigDict(frozen=True)

    patch_size: Patch3 = Field(description="Patch the plan was made for.")
    spacing: Spacing3 = Field(description="Voxel spacing the plan was made for.")
    kernel_size: list[Patch3] = Field(description="Convolution kernel per level (input block first).")
    strides: list[Patch3] = Field(description="Stride per level; the first is always (1, 1, 1).")

    @property
    def depth(self) -> int:
        """Number of downsampling levels."""
        return len(self.strides) - 1

    @property
    def upsample_kernel_size(self) -> list[Patch3]:
        """Transposed-convolution kernels, equal to the strides they undo."""
        return self.strides[1:]

    @property
    def divisors(self) -> Patch3:
        """Per-axis total downsampling: every input dim must be a multiple of it."""
        x, y, z = (math.prod(stride[axis] for stride in self.strides) for axis in range(3))
        return (x, y, z)


def plan_dynunet(
    patch_size: Patch3,
    spacing: Spacing3 = DEFAULT_SPACING,
    min_size: int = 4,
    max_depth: int = 5,
) -> DynUNetPlan:
    """Plan DynUNet kernels and strides the nnU-Net (v2) way.

    At each level, among the axes that can still be halved (even and at least ``2 * min_size``), an
    axis gets stride 2 if its current spacing is at most twice the finest spacing of those axes.
    Kernels are 3 on axes within 2x of the finest current spacing and 1 on axes still too coarse;
    once an axis has kernel 3 it keeps it. Pooling doubles an axis's spacing, so coarse axes join in
    once the others catch up; an axis that can no longer be halved does not hold the others back.

    Args:
        patch_size: Training patch (X, Y, Z).
        spacing: Voxel spacing (any unit), e.g. (1.0, 1.0, 3.0) for thick z sections.
        min_size: Smallest feature-map edge.
        max_depth: Most downsampling levels.

    Returns:
        The plan (may have fewer than 2 levels; the adapter checks).

    Raises:
        ConfigError: for non-positive sizes or spacings.
    """
    if len(patch_size) != 3 or any(not isinstance(d, int) or d < 1 for d in patch_size):
        raise ConfigError(f"dynunet needs a 3D patch of three positive integers; got {patch_size!r}")
    if len(spacing) != 3 or any(not s > 0 for s in spacing):
        raise ConfigError(f"dynunet needs three positive voxel spacings; got {spacing!r}")
    size = list(patch_size)
    current = [float(s) for s in spacing]
    kernels: list[Patch3] = [_kernel(current, (1, 1, 1))]
    strides: list[Patch3] = [(1, 1, 1)]
    while len(strides) - 1 < max_depth:
        poolable = [a for a in range(3) if size[a] >= 2 * min_size and size[a] % 2 == 0]
        if not poolable:
            break
        finest = min(current[a] for a in poolable)
        sx, sy, sz = (2 if a in poolable and current[a] <= 2 * finest else 1 for a in range(3))
        stride = (sx, sy, sz)
        size = [dim // s for dim, s in zip(size, stride, strict=True)]
        current = [sp * s for sp, s in zip(current, stride, strict=True)]
        strides.append(stride)
        kernels.append(_kernel(current, kernels[-1]))
    return DynUNetPlan(patch_size=patch_size, spacing=spacing, kernel_size=kernels, strides=strides)


def _kernel(spacing: list[float], previous: Patch3) -> Patch3:
    """Kernel 3 on axes within 2x of the finest spacing or already 3 one level up, else 1."""
    finest = min(spacing)
    kx, ky, kz = (3 if sp <= 2 * finest or prev == 3 else 1 for sp, prev in zip(spacing, previous, strict=True))
    return (kx, ky, kz)


class DynUNetAdapter:
    """Adapter for MONAI's DynUNet; the architecture is planned from the patch and spacing at build time."""

    name: str = "dynunet"
    family: str = "cnn"
    description: str = "MONAI DynUNet: nnU-Net-style U-Net planned from patch size and voxel spacing"
    supports_grad_checkpointing: bool = False
    options_model: type[BaseModel] = DynUNetOptions

    def parse_options(self, raw: Mapping[str, Any]) -> DynUNetOptions:
        """Validate raw options.

        Args:
            raw: Option names to values, e.g. ``{"filters_base": 32}``.

        Returns:
            The validated options.

        Raises:
            ConfigError: naming the bad field and its allowed values.
        """
        return parse_options_for(self.name, DynUNetOptions, raw)

    def plan(self, options: BaseModel, patch_size: Patch3, spacing: Spacing3 = DEFAULT_SPACING) -> DynUNetPlan:
        """Plan kernels and strides for a patch and spacing with these options."""
        opts = ensure_options(self.name, options, DynUNetOptions)
        return plan_dynunet(patch_size, spacing, min_size=opts.min_size, max_depth=opts.max_depth)

    def patch_multiple(self, options: BaseModel) -> int:
        """``2 ** max_depth``: an upper bound of every plan's per-axis divisors (the plan's are exact)."""
        opts = ensure_options(self.name, options, DynUNetOptions)
        return int(2**opts.max_depth)

    def min_patch(self, options: BaseModel) -> Patch3:
        """``4 * min_size`` per axis, which gives two levels at any spacing."""
        opts = ensure_options(self.name, options, DynUNetOptions)
        edge = 2**MIN_LEVELS * opts.min_size
        return (edge, edge, edge)

    def validate_patch(self, patch_size: Patch3, options: BaseModel, *, spacing: Spacing3 = DEFAULT_SPACING) -> None:
        """Check that the patch plans to at least two downsampling levels.

        Raises:
            ConfigError: with a patch that would.
        """
        plan = self.plan(options, patch_size, spacing)
        if plan.depth >= MIN_LEVELS:
            return
        edge = self.min_patch(options)[0]
        x, y, z = (max(edge, 4 * math.ceil(dim / 4)) for dim in patch_size)
        raise ConfigError(
            f"dynunet needs at least {MIN_LEVELS} downsampling levels; patch {patch_size} at spacing "
            f"{spacing} allows {plan.depth} (an axis is halved only while even and >= 2 * min_size); "
            f"try {(x, y, z)}"
        )

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
        """Plan and build a 3D DynUNet.

        Args:
            options: Result of ``parse_options``.
            in_channels: Input channels.
            out_channels: Output channels (logits).
            grad_checkpointing: Not supported; must be False.
            patch_size: Training patch the architecture is planned for.
            spacing: Voxel spacing the architecture is planned for.

        Returns:
            The network; inputs must be multiples of ``self.plan(...).divisors`` per axis.

        Raises:
            ConfigError: for gradient checkpointing, a patch too small to plan, or too many
                deep-supervision heads.
        """
        opts = ensure_options(self.name, options, DynUNetOptions)
        if grad_checkpointing:
            reject_grad_checkpointing(self.name)
        self.validate_patch(patch_size, opts, spacing=spacing)
        plan = self.plan(opts, patch_size, spacing)
        if opts.deep_supervision and opts.deep_supr_num >= plan.depth:
            raise ConfigError(
                f"dynunet deep_supr_num={opts.deep_supr_num} must be below the planned depth {plan.depth} "
                f"for patch {patch_size}; use deep_supr_num <= {plan.depth - 1} or a larger patch"
            )
        filters = [min(opts.filters_base * 2**level, opts.max_filters) for level in range(len(plan.strides))]
        norm: tuple[str, dict[str, Any]] = ("instance", {"affine": True}) if opts.norm == "instance" else ("batch", {})
        model: torch.nn.Module = DynUNet(
            spatial_dims=3,
            in_channels=in_channels,
            out_channels=out_channels,
            kernel_size=plan.kernel_size,
            strides=plan.strides,
            upsample_kernel_size=plan.upsample_kernel_size,
            filters=filters,
            dropout=opts.dropout or None,
            norm_name=norm,
            deep_supervision=opts.deep_supervision,
            deep_supr_num=opts.deep_supr_num,
            res_block=opts.res_block,
        )
        logger.debug("built %s with filters %s and plan %s", self.name, filters, plan)
        return model
