"""An ensemble of trained segmentation networks as one ``nn.Module`` (so sliding-window inference, evaluation,
prediction and calibration treat it like any model).

The forward pass returns log-probabilities, ``log p`` with ``p`` the combined softmax over classes: argmax gives
the combined mask and softmax gives back ``p``. Combination rules follow MONAI's ``MeanEnsemble`` (optionally
weighted) and ``VoteEnsemble`` (majority of the members' argmax masks; a tie goes to background).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import torch
from monai.transforms import MeanEnsemble
from torch import nn

ENSEMBLE_ADAPTER: Final = "ensemble"
Strategy = Literal["mean", "vote", "weighted"]
_EPS: Final = 1e-6


class EnsembleNet(nn.Module):
    """Members' softmax outputs combined per voxel; returns (B, C, ...) log-probabilities."""

    def __init__(
        self, members: Sequence[nn.Module], strategy: Strategy, weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}.")
        if weights is not None and (len(weights) != len(members) or any(w < 0 for w in weights) or sum(weights) <= 0):
            raise ValueError(f"weights must be {len(members)} non-negative numbers with a positive sum, got {weights}.")
        self.members = nn.ModuleList(members)
        self.strategy: Strategy = strategy
        self.weights = list(weights) if weights is not None else [1.0] * len(members)

    def member_probabilities(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each member's softmax (B, C, ...)."""
        return [torch.softmax(member(x).float(), dim=1) for member in self.members]

    def combine(self, probabilities: Sequence[torch.Tensor]) -> torch.Tensor:
        """Combined class probabilities (B, C, ...) from the members' softmax outputs.

        mean / weighted: MONAI ``MeanEnsemble`` of the probabilities (weights normalised to sum 1).
        vote: the fraction of members voting for each class (``MeanEnsemble`` of one-hot argmax masks); its
        argmax is MONAI ``VoteEnsemble``'s majority label, a tie going to background.
        """
        if self.strategy == "vote":
            n_classes = probabilities[0].shape[1]
            votes = [nn.functional.one_hot(p.argmax(dim=1), n_classes).movedim(-1, 1).float() for p in probabilities]
            return torch.as_tensor(MeanEnsemble()(torch.stack(votes)))
        weights = self.weights if self.strategy == "weighted" else None
        return torch.as_tensor(MeanEnsemble(weights=weights)(torch.stack(list(probabilities))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.combine(self.member_probabilities(x)).clamp_min(_EPS))


def variance_and_entropy(
    probabilities: Sequence[torch.Tensor], combined: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-voxel uncertainty of an ensemble: variance of the members' vessel probability, and predictive
    entropy (nats) of the combined class distribution. Both (B, ...)."""
    vessel = torch.stack([p[:, 1] for p in probabilities])
    variance = vessel.var(dim=0, unbiased=False)
    return variance, predictive_entropy(combined)


def predictive_entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) over the class axis of (B, C, ...) probabilities → (B, ...)."""
    p = probabilities.clamp_min(1e-12)
    return -(p * p.log()).sum(dim=1)
