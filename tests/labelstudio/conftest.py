"""A real Label Studio server for the tests in this folder: one per session, in a temp home, on a free port.

Every test here is marked `labelstudio`. If the server cannot start (not installed: `make labelstudio`; port,
migration or boot failure), every test that needs it fails with the reason: these tests never skip.
"""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from minivess.errors import MinivessError
from minivess.pipelines.annotation import credentials as creds
from minivess.pipelines.annotation import server as ls
from minivess.settings import Settings

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder `labelstudio` (so `-m "not labelstudio"` leaves them out)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.labelstudio)


@dataclass(frozen=True)
class RunningServer:
    """The session's server: where it answers, the admin's token, and the minivess home that owns it."""

    url: str
    token: str
    home: Path
    settings: Settings
    server: ls.LabelStudioServer
    boot_s: float  # the first boot, migrations included

    def stop(self) -> None:
        """Stop it (a test of what happens when the server goes away); call ``start`` before the test ends."""
        self.server.stop()

    def start(self) -> None:
        """Start it again on the same data (a warm start, ~6 s)."""
        self.server.start()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_settings(home: Path, port: int) -> Settings:
    """Settings for a server in ``home`` on ``port``, whatever the environment says (explicit values win)."""
    return Settings(
        home=home,
        label_studio_url=f"http://127.0.0.1:{port}",
        label_studio_token=None,
        label_studio_venv=None,
        _env_file=None,
    )


def clone_home(source: Path, target: Path) -> None:
    """Copy a stopped-or-running server's data (SQLite via the backup API, its secret key, our credentials)."""
    src, dst = source / creds.DIRNAME, target / creds.DIRNAME
    dst.mkdir(parents=True, mode=0o700)
    for name in (creds.CREDENTIALS_FILE, ".env"):
        (dst / name).write_bytes((src / name).read_bytes())
        (dst / name).chmod(0o600)
    with sqlite3.connect(src / creds.DATABASE_FILE) as origin, sqlite3.connect(dst / creds.DATABASE_FILE) as copy:
        origin.backup(copy)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Start Label Studio once for the session (first boot migrates: ~1 min); stop its process group at the end."""
    home = tmp_path_factory.mktemp("labelstudio-session")
    settings = local_settings(home, free_port())
    server = ls.LabelStudioServer(settings)
    started = time.monotonic()
    failure = None
    try:
        server.start()
    except MinivessError as exc:
        failure = str(exc)
    if failure is not None:  # outside the except block: the reason alone, without a chained traceback
        pytest.fail(f"the Label Studio test server could not start: {failure}", pytrace=False)
    boot_s = time.monotonic() - started
    _, token = creds.client_credentials(settings)
    try:
        yield RunningServer(server.url, token, home, settings, server, boot_s)
    finally:
        server.stop()


@pytest.fixture
def label_studio_env(label_studio: RunningServer, minivess_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point this test's settings (its own MINIVESS_HOME) at the session server; returns its URL."""
    monkeypatch.setenv("MINIVESS_LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("MINIVESS_LABEL_STUDIO_TOKEN", label_studio.token)
    return label_studio.url
