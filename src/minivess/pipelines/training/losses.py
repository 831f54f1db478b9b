"""Segmentation losses: Dice+CE, optionally plus MONAI's soft-clDice on the vessel channel."""

from __future__ import annotations

import torch
from monai.losses import DiceCELoss, SoftclDiceLoss

from minivess.configs.experiment import LossConfig


class DiceCEclDiceLoss(torch.nn.Module):
    """(1 - w)·DiceCE + w·soft-clDice (vessel channel only), as in Shit et al. 2021."""

    def __init__(self, weight: float, iters: int) -> None:
        super().__init__()
        self.weight = weight
        self.dice_ce = DiceCELoss(to_onehot_y=True, softmax=True)
        self.cldice = SoftclDiceLoss(iter_=iters, to_onehot_y=True, softmax=True, include_background=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss: torch.Tensor = (1.0 - self.weight) * self.dice_ce(logits, target) + self.weight * self.cldice(
            logits, target
        )
        return loss


def build_loss(cfg: LossConfig) -> torch.nn.Module:
    """Loss on 2-channel logits (B, 2, X, Y, Z) and integer labels (B, 1, X, Y, Z)."""
    if cfg.name == "dice_ce":
        return DiceCELoss(to_onehot_y=True, softmax=True)
    return DiceCEclDiceLoss(cfg.cldice_weight, cfg.cldice_iters)
