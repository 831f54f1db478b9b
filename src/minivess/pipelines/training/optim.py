"""Optimiser and per-epoch learning-rate schedule from the config."""

from __future__ import annotations

import torch

from minivess.configs.experiment import OptimConfig


def build_optimizer(model: torch.nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, nesterov=True
        )
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Linear warm-up for `warmup_epochs`, then cosine / poly (nnU-Net's 0.9) / constant; stepped per epoch."""
    warmup = min(cfg.warmup_epochs, max(epochs - 1, 0))
    decay_epochs = max(epochs - warmup, 1)

    def factor(epoch: int) -> float:
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        progress = min((epoch - warmup) / decay_epochs, 1.0)
        if cfg.schedule == "cosine":
            return 0.5 * (1.0 + float(torch.cos(torch.tensor(progress * torch.pi))))
        if cfg.schedule == "poly":
            return float((1.0 - progress) ** 0.9)
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
