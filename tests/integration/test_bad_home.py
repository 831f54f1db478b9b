"""A bad MINIVESS_HOME gets one clear line on stderr and exit 2 before any work; --help and config show still work."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

COMMANDS = (
    ("train", "--set", "trainer.epochs=1"),
    ("runs", "leaderboard"),
    ("threads",),
    ("ask", "show the leaderboard", "--yes"),
    ("data", "synth", "--out", "synth-out", "--n", "1", "--shape", "16", "16", "8"),
)


def _minivess(home: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINIVESS_HOME": home, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "minivess", *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _shallow(home: str) -> list[str] | None:
    return sorted(p.name for p in Path(home).iterdir()) if home and Path(home).is_dir() else None


def _writable(path: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=path):
            return True
    except OSError:
        return False


def _read_only_dir(tmp_path: Path) -> Path:
    """An existing folder nobody here can write: chmod 555, or (as root, who ignores modes) a sysfs folder."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if _writable(folder):
        folder.chmod(0o755)
        folder = Path("/sys/kernel")
        if not folder.is_dir() or _writable(folder):
            pytest.skip("no folder this user cannot write (root without a read-only sysfs)")
    return folder


def _empty(tmp_path: Path) -> tuple[str, str]:
    return "", "MINIVESS_HOME is set but empty"


def _a_file(tmp_path: Path) -> tuple[str, str]:
    home = tmp_path / "home.txt"
    home.write_text("not a folder\n")
    return str(home), "is a file, not a folder"


def _parent_is_a_file(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "parent.txt").write_text("not a folder\n")
    return str(tmp_path / "parent.txt" / "a" / "home"), "cannot create the minivess home"


def _read_only(tmp_path: Path) -> tuple[str, str]:
    return str(_read_only_dir(tmp_path)), "is not writable"


def _uncreatable_parent(tmp_path: Path) -> tuple[str, str]:
    return str(_read_only_dir(tmp_path) / "missing" / "home"), "cannot create the minivess home"


BAD_HOMES = {
    "empty": _empty,
    "a file": _a_file,
    "parent is a file": _parent_is_a_file,
    "read-only": _read_only,
    "parent cannot be created": _uncreatable_parent,
}


@pytest.mark.parametrize("case", list(BAD_HOMES))
def test_a_bad_home_is_one_line_exit_2_and_nothing_written(case: str, tmp_path: Path) -> None:
    make: Callable[[Path], tuple[str, str]] = BAD_HOMES[case]
    work = tmp_path / "cwd"
    work.mkdir()
    home, expected = make(tmp_path)
    before = _listing(tmp_path), _shallow(home)
    commands = COMMANDS if case == "empty" else COMMANDS[:2]  # every command once; the rest check the cases
    for args in commands:
        out = _minivess(home, *args, cwd=work)
        assert out.returncode == 2, f"{args}: {out.stdout}{out.stderr}"
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1, f"{args}: {out.stderr}"
        assert lines[0].startswith("ConfigError: ") and expected in lines[0], lines[0]
        assert "MINIVESS_HOME" in lines[0]  # says what to do
        assert out.stdout == ""
    after = _listing(tmp_path), _shallow(home)
    assert after == before  # nothing written: not in the current folder, not in or beside the home


def test_help_and_config_show_work_with_a_bad_home(tmp_path: Path) -> None:
    home, _ = _a_file(tmp_path)
    for args in (("--help",), ("train", "--help"), ("runs", "leaderboard", "--help"), ("models", "list")):
        out = _minivess(home, *args, cwd=tmp_path)
        assert out.returncode == 0, f"{args}: {out.stderr}"
    shown = _minivess(home, "config", "show", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "is a file, not a folder" in shown.stdout
    empty = _minivess("", "config", "show", "--json", cwd=tmp_path)
    assert empty.returncode == 0 and "set but empty" in empty.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home.txt"]
