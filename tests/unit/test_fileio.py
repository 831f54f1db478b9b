from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from minivess.errors import PipelineError
from minivess.fileio import exclusive, lock_path, write_bytes_atomic, write_json_atomic


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


def _hold(lock_target: str, log: str, tag: str) -> None:
    with exclusive(Path(lock_target)), Path(log).open("a") as handle:
        handle.write(f"{tag}+")
        handle.flush()
        time.sleep(0.3)
        handle.write(f"{tag}-")


def test_exclusive_serialises_processes(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hold, args=(str(tmp_path / "store.db"), str(log), t)) for t in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    text = log.read_text()
    assert text in ("a+a-b+b-", "b+b-a+a-")  # never interleaved
    assert lock_path(tmp_path / "store.db") == tmp_path / "store.db.lock"


def test_exclusive_is_reentrant_and_times_out_for_others(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "store.db"
    with exclusive(target), exclusive(target):  # the same thread may nest (a store opened inside another use)
        outcome: list[BaseException] = []

        def other() -> None:
            try:
                with exclusive(target, timeout_s=0.2):
                    pass
            except PipelineError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(outcome) == 1 and "another minivess process" in str(outcome[0])
    with exclusive(target, timeout_s=0.2):  # released: free again
        pass
