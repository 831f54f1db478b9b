from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivess.errors import ConfigError, DataError
from minivess.pipelines.data.splits import Splits, make_kfold, make_splits

IDS = [f"v{i:02d}" for i in range(12)]


def test_split_is_deterministic_and_independent_of_listing_order() -> None:
    a = make_splits(IDS, "ver", seed=3)
    b = make_splits(list(reversed(IDS)), "ver", seed=3)
    assert a == b
    assert make_splits(IDS, "ver", seed=4) != a


@settings(max_examples=50, deadline=None)
@given(n=st.integers(3, 60), val=st.floats(0.05, 0.4), test=st.floats(0.05, 0.4), seed=st.integers(0, 10_000))
def test_split_partitions_ids(n: int, val: float, test: float, seed: int) -> None:
    ids = [f"v{i}" for i in range(n)]
    try:
        s = make_splits(ids, "ver", val, test, seed)
    except DataError:
        assert n - max(1, round(n * val)) - max(1, round(n * test)) < 1
        return
    assert sorted(s.train + s.val + s.test) == sorted(ids)
    assert s.train and s.val and s.test
    assert not set(s.train) & set(s.val) and not set(s.val) & set(s.test)


def test_split_round_trip(tmp_path: Path) -> None:
    s = make_splits(IDS, "ver")
    s.save(tmp_path / "s.json")
    assert Splits.load(tmp_path / "s.json") == s


def test_bad_fractions() -> None:
    with pytest.raises(ConfigError, match="sum to < 1"):
        make_splits(IDS, "ver", 0.6, 0.5)
    with pytest.raises(DataError, match="leave one for training"):
        make_splits(["a", "b"], "ver", 0.2, 0.2)


def test_kfold_covers_every_id_once() -> None:
    folds = make_kfold(IDS, "ver", k=5, seed=1)
    vals = [v for _, fold_val in folds.folds for v in fold_val]
    assert sorted(vals) == sorted(IDS)
    for train, val in folds.folds:
        assert sorted(train + val) == sorted(IDS)
    assert make_kfold(IDS, "ver", k=5, seed=1) == folds
    with pytest.raises(ConfigError):
        make_kfold(IDS, "ver", k=1)
