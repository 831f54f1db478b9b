"""Dataset versions with DVC: content-addressed, idempotent, concurrent-safe, never writing the user's folder."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from minivess.errors import DataError
from minivess.pipelines.governance import versions
from minivess.settings import get_settings
from tests.helpers import write_tube_dataset


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_record_is_idempotent_pushed_and_leaves_the_user_folder_untouched(tmp_path: Path) -> None:
    settings = get_settings()
    folder = write_tube_dataset(tmp_path / "user" / "vessels", n=2)
    before = _snapshot(folder)
    entries_before = sorted(p.name for p in folder.iterdir())

    first = versions.record_version(settings, folder, "add")
    again = versions.record_version(settings, folder, "add")

    assert _snapshot(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == entries_before
    assert again == first
    assert len(versions.list_versions(settings)) == 1
    assert first.dataset == "vessels" and len(first.version) == 12 and first.md5.startswith(first.version)
    assert first.files == 4 and first.bytes > 0
    kept = versions.dvc_root(settings) / "versions" / "vessels" / f"{first.version}.dvc"
    assert yaml.safe_load(kept.read_text())["outs"][0]["md5"] == first.md5
    remote = settings.home_dir / "dvc-remote"
    assert any(p.is_file() for p in remote.rglob("*")), "nothing was pushed to the default remote"
    assert versions.version_for_manifest(settings, first.manifest_version) == first
    from minivess.pipelines.governance import audit

    logged = [e for e in audit.entries(settings) if e.kind == "dataset_version"]
    assert [(e.subject, e.data_version) for e in logged] == [(f"dataset vessels {first.version}", first.version)]


def test_new_content_is_a_new_version_with_history(tmp_path: Path) -> None:
    settings = get_settings()
    folder = write_tube_dataset(tmp_path / "a" / "ds", n=2)
    v1 = versions.record_version(settings, folder, "synth")
    other = write_tube_dataset(tmp_path / "b" / "ds", n=3)
    v2 = versions.record_version(settings, other, "label_import", parent_version=v1.version)

    listed = versions.list_versions(settings, "ds")
    assert [v.version for v in listed] == [v1.version, v2.version]
    assert v1.version != v2.version and v2.parent_version == v1.version and v2.source == "label_import"
    assert versions.list_versions(settings, "nope") == []


def test_two_processes_record_at_once(tmp_path: Path) -> None:
    folder_a = write_tube_dataset(tmp_path / "a" / "one", n=2)
    folder_b = write_tube_dataset(tmp_path / "b" / "two", n=3)
    code = (
        "import sys; from pathlib import Path; from minivess.settings import get_settings; "
        "from minivess.pipelines.governance import versions; "
        "print(versions.record_version(get_settings(), Path(sys.argv[1]), 'add').version)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for f in (folder_a, folder_b)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    recorded = {v.dataset: v.version for v in versions.list_versions(get_settings())}
    assert recorded == {"one": outs[0][0].split()[-1], "two": outs[1][0].split()[-1]}


def test_a_missing_folder_or_bad_name_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        versions.record_version(get_settings(), tmp_path / "missing", "add")
    folder = write_tube_dataset(tmp_path / "ok", n=2)
    with pytest.raises(DataError, match="not valid"):
        versions.record_version(get_settings(), folder, "add", name="../evil")
