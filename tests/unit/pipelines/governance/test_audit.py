"""The hash-chained audit trail: verify passes, then catches an edited byte, deletions, reordering and tears."""

from __future__ import annotations

import json
import multiprocessing
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.errors import DataError
from minivess.pipelines.governance import audit
from minivess.pipelines.governance.soup import lockfile_sha256, soup_list
from minivess.settings import Settings, get_settings


def _three(settings: Settings) -> list[audit.AuditEntry]:
    return [
        audit.append(settings, "dataset_version", "dataset synth a1", data_version="a1"),
        audit.append(settings, "promotion", "minivess-segmenter v1 → champion", run_id="r" * 32, reason="best dice"),
        audit.append(settings, "approval", "thread t1: promote_model", actor="ada", reason="looks right"),
    ]


def _lines(settings: Settings) -> list[str]:
    return audit.log_path(settings).read_text(encoding="utf-8").splitlines()


def _write(settings: Settings, lines: list[str]) -> None:
    audit.log_path(settings).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_entries_chain_and_carry_the_configuration() -> None:
    settings = get_settings()
    first, second, third = _three(settings)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS and second.prev_hash == first.hash and third.prev_hash == second.hash
    assert third.actor == "ada" and second.actor  # the OS user by default
    assert second.mlflow_run_id == "r" * 32 and first.data_version == "a1"
    assert first.git_commit and len(first.git_commit) == 40  # tests run from the git checkout
    assert first.lockfile_sha256 == lockfile_sha256()
    check = audit.verify(settings)
    assert check.ok and check.entries == 3 and check.head == third.hash
    assert [e.seq for e in audit.entries(settings)] == [1, 2, 3]


def test_one_edited_byte_is_detected_and_named() -> None:
    settings = get_settings()
    _three(settings)
    raw = audit.log_path(settings).read_bytes()
    at = raw.index(b"best dice") + 1
    audit.log_path(settings).write_bytes(raw[:at] + b"E" + raw[at + 1 :])  # "best dice" → "bEst dice"
    check = audit.verify(settings)
    assert not check.ok
    assert any("entry 2: its content does not match its hash (edited)" in p for p in check.problems)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda lines: [lines[0], lines[2]], "seq 3 where 2 was expected"),
        (lambda lines: lines[:2], "the log ends at entry 2"),
        (lambda lines: [lines[0], lines[2], lines[1]], "seq 3 where 2 was expected"),
        (lambda lines: [*lines[:2], lines[2][:-15]], "line 3: not a valid entry"),
        (lambda lines: [lines[0], lines[0], *lines[1:]], "seq 1 where 2 was expected"),
    ],
    ids=["middle-deleted", "last-deleted", "reordered", "torn-last-line", "duplicated"],
)
def test_deletions_reordering_tears_and_insertions_are_detected(change, expected) -> None:  # type: ignore[no-untyped-def]
    settings = get_settings()
    _three(settings)
    _write(settings, change(_lines(settings)))
    check = audit.verify(settings)
    assert not check.ok and any(expected in p for p in check.problems), check.problems


def test_a_rehashed_forgery_still_breaks_the_chain() -> None:
    settings = get_settings()
    _three(settings)
    lines = _lines(settings)
    forged = json.loads(lines[1])
    forged["actor"] = "mallory"
    forged["hash"] = audit.entry_hash(forged)  # a consistent entry, but the next one links to the old hash
    _write(settings, [lines[0], json.dumps(forged), lines[2]])
    problems = audit.verify(settings).problems
    assert any("entry 3: prev_hash does not match" in p for p in problems)


def test_appending_after_a_torn_line_refuses_instead_of_forking_the_chain() -> None:
    settings = get_settings()
    _three(settings)
    _write(settings, [*_lines(settings)[:2], _lines(settings)[2][:20]])
    with pytest.raises(DataError, match="not a complete entry"):
        audit.append(settings, "gate_result", "gate")


def _append_many(home: str, worker: int) -> None:
    import os

    os.environ["MINIVESS_HOME"] = home
    settings = Settings()
    for i in range(5):
        audit.append(settings, "gate_result", f"worker {worker} gate {i}")


def test_four_processes_appending_at_once_all_land_on_an_intact_chain(minivess_home: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(minivess_home), w)) for w in range(4)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(120)
        assert proc.exitcode == 0
    settings = get_settings()
    check = audit.verify(settings)
    assert check.ok and check.entries == 20, check.problems
    assert sorted(e.subject for e in audit.entries(settings)) == sorted(
        f"worker {w} gate {i}" for w in range(4) for i in range(5)
    )


def test_release_export_has_the_soup_list_and_refuses_a_broken_trail(tmp_path: Path) -> None:
    settings = get_settings()
    _three(settings)
    out = audit.export_release(settings, tmp_path / "release")
    record = json.loads((out / "release.json").read_text(encoding="utf-8"))
    assert record["audit"]["ok"] and record["audit"]["entries"] == 3
    soup = {item["name"].lower(): item["version"] for item in json.loads((out / "soup.json").read_text())}
    assert soup["torch"] == metadata.version("torch") and soup["monai"] == metadata.version("monai")
    assert "minivess" not in soup
    assert (out / "audit.jsonl").read_text().count("\n") == 3
    assert audit.entries(settings)[-1].kind == "release" and audit.verify(settings).ok
    with pytest.raises(DataError, match="not an empty folder"):
        audit.export_release(settings, out)
    _write(settings, _lines(settings)[1:])
    with pytest.raises(DataError, match="does not verify"):
        audit.export_release(settings, tmp_path / "release2")


def test_soup_list_is_every_distribution_once() -> None:
    names = [item.name.lower() for item in soup_list()]
    assert len(names) == len(set(names)) and "pydantic" in names and "dvc" in names


def test_cli_verify_exit_codes_and_log(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    settings = get_settings()
    _three(settings)
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "audit trail intact: 3 entries" in ok.output
    listed = runner.invoke(app, ["audit", "log", "--kind", "promotion", "--json"])
    assert [e["subject"] for e in json.loads(listed.output)] == ["minivess-segmenter v1 → champion"]
    raw = audit.log_path(settings).read_bytes()
    audit.log_path(settings).write_bytes(raw.replace(b"looks right", b"looks wrong"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "entry 3: its content does not match its hash" in broken.output
    exported = runner.invoke(app, ["audit", "export", str(tmp_path / "rel")])
    assert isinstance(exported.exception, DataError)
