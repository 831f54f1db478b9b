"""Weight averaging for soups: float tensors averaged, integer buffers kept; several runs refused."""

from __future__ import annotations

import pytest
import torch

from minivess.errors import ConfigError
from minivess.pipelines.uncertainty.run_soup import average_states, refuse_unrelated


def test_average_states_means_floats_and_keeps_counters() -> None:
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(5), "h": torch.tensor([1.0], dtype=torch.float16)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(9), "h": torch.tensor([3.0], dtype=torch.float16)}
    out = average_states([a, b])
    torch.testing.assert_close(out["w"], torch.tensor([2.0, 4.0]))
    assert int(out["n"]) == 5 and out["h"].dtype == torch.float16 and float(out["h"]) == 2.0


def test_average_of_one_state_is_that_state() -> None:
    a = {"w": torch.randn(3, 3)}
    torch.testing.assert_close(average_states([a])["w"], a["w"])


def test_several_runs_are_refused_with_the_reason() -> None:
    refuse_unrelated(["abc123"])
    with pytest.raises(ConfigError, match="trained from scratch"):
        refuse_unrelated(["abc123", "def456"])
