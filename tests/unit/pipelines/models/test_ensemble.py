"""EnsembleNet combines members like MONAI's MeanEnsemble / VoteEnsemble and returns log-probabilities."""

from __future__ import annotations

import pytest
import torch
from monai.transforms import MeanEnsemble, VoteEnsemble
from torch import nn

from minivess.pipelines.models.ensemble import EnsembleNet, predictive_entropy, variance_and_entropy


class Fixed(nn.Module):
    """Returns fixed logits whatever the input (the input only sets the batch size)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], *self.logits.shape[1:])


def _members(seed: int = 0, k: int = 3) -> list[Fixed]:
    g = torch.Generator().manual_seed(seed)
    return [Fixed(torch.randn(1, 2, 4, 5, 3, generator=g) * 3) for _ in range(k)]


def test_mean_is_monai_mean_of_softmax_and_forward_is_its_log() -> None:
    members = _members()
    net = EnsembleNet(members, "mean")
    x = torch.zeros(1, 1, 4, 5, 3)
    expected = MeanEnsemble()(torch.stack([torch.softmax(m(x), 1) for m in members]))
    torch.testing.assert_close(torch.softmax(net(x), 1), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net(x).exp().sum(1), torch.ones(1, 4, 5, 3), atol=1e-5, rtol=1e-5)


def test_weighted_mean_normalises_weights() -> None:
    members = _members(1, 2)
    x = torch.zeros(1, 1, 4, 5, 3)
    p = [torch.softmax(m(x), 1) for m in members]
    net = EnsembleNet(members, "weighted", [3.0, 1.0])
    torch.testing.assert_close(net.combine(p), 0.75 * p[0] + 0.25 * p[1], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_vote_argmax_is_monai_majority_with_ties_to_background(k: int) -> None:
    members = _members(2, k)
    x = torch.zeros(1, 1, 4, 5, 3)
    labels = [m(x).argmax(1, keepdim=True).float() for m in members]
    majority = VoteEnsemble(num_classes=None)(labels)
    net = EnsembleNet(members, "vote")
    assert torch.equal(net(x).argmax(1, keepdim=True).float(), majority)
    fraction = torch.stack(labels).mean(0)[:, 0]
    torch.testing.assert_close(torch.softmax(net(x), 1)[:, 1], fraction, atol=1e-5, rtol=1e-5)


def test_uncertainty_maps() -> None:
    members = _members(3)
    x = torch.zeros(1, 1, 4, 5, 3)
    p = [torch.softmax(m(x), 1) for m in members]
    combined = EnsembleNet(members, "mean").combine(p)
    variance, entropy = variance_and_entropy(p, combined)
    torch.testing.assert_close(variance, torch.stack([q[:, 1] for q in p]).var(0, unbiased=False))
    assert (entropy >= 0).all() and (entropy <= torch.log(torch.tensor(2.0)) + 1e-6).all()
    certain = torch.zeros(1, 2, 1, 1, 1)
    certain[:, 0] = 1.0
    assert float(predictive_entropy(certain).max()) < 1e-9


@pytest.mark.parametrize(
    ("members", "weights", "message"),
    [(1, None, "at least 2"), (2, [1.0], "weights"), (2, [-1.0, 2.0], "weights"), (2, [0.0, 0.0], "weights")],
)
def test_bad_ensembles_are_refused(members: int, weights: list[float] | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnsembleNet(_members(0, members), "weighted", weights)
