"""The home is checked before use: empty, a file, not creatable or not writable is a ConfigError saying what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.errors import ConfigError, DataError
from minivess.pipelines.training.setup import ensure_default_dataset
from minivess.settings import get_settings


def test_a_missing_home_is_created_with_its_parents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIVESS_HOME", str(tmp_path / "a" / "b" / "home"))
    home = get_settings().check_home()
    assert home.is_dir() and list(home.iterdir()) == []  # the write probe leaves nothing behind


def test_an_empty_home_variable_is_refused_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIVESS_HOME", " ")
    settings = get_settings()
    with pytest.raises(ConfigError, match="MINIVESS_HOME is set but empty; unset it"):
        settings.check_home()
    with pytest.raises(ConfigError):
        _ = settings.tracking_uri  # everything that needs the home refuses it too
    assert "set but empty" in settings.masked()["home"]  # config show still works
    assert list(tmp_path.iterdir()) == []


def test_a_home_that_is_a_file_or_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("MINIVESS_HOME", str(tmp_path / "f"))
    with pytest.raises(ConfigError, match=r"is a file, not a folder; set MINIVESS_HOME"):
        get_settings().check_home()
    monkeypatch.setenv("MINIVESS_HOME", str(tmp_path / "f" / "home"))
    with pytest.raises(ConfigError, match=r"cannot create the minivess home .*f/home \(Not a directory\)"):
        get_settings().check_home()


def test_a_read_only_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "ro"
    home.mkdir()

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("minivess.settings.tempfile.mkstemp", refuse)
    monkeypatch.setenv("MINIVESS_HOME", str(home))
    with pytest.raises(ConfigError, match=r"is not writable \(Permission denied\)"):
        get_settings().check_home()


def test_the_default_dataset_is_generated_only_inside_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "user-data"
    user.mkdir()
    monkeypatch.setenv("MINIVESS_DATA_DIR", str(user))
    settings = get_settings()
    with pytest.raises(DataError, match=r"no dataset at .*user-data/synthetic .*never writes into your folders"):
        ensure_default_dataset(settings.resolved_data_dir / "synthetic", settings)
    assert list(user.iterdir()) == []
