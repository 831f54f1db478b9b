from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from minivess.fileio import write_bytes_atomic, write_json_atomic


def test_failed_write_leaves_neither_partial_file_nor_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "raw" / "x.nii.gz"

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, b"payload")
    assert not target.exists()
    assert list((tmp_path / "raw").iterdir()) == []


def test_overwrite_is_all_or_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json_atomic(target, {"b": 1, "a": 2})
    write_json_atomic(target, {"c": 3})
    assert json.loads(target.read_text()) == {"c": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
