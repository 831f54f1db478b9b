"""server.py without a server: credentials, executable lookup, URL and port checks, env, pid files, the CLI."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.errors import ConfigError, LabelStudioError
from minivess.pipelines.annotation import credentials as creds
from minivess.pipelines.annotation import processes
from minivess.pipelines.annotation import server as ls
from minivess.settings import Settings

ROOT = Path(__file__).resolve().parents[4]


def _settings(**values: object) -> Settings:
    return Settings(**values)


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_credentials_are_random_private_and_stable(tmp_path: Path) -> None:
    first = creds.load_or_create_credentials(tmp_path / "a")
    assert (tmp_path / "a" / creds.CREDENTIALS_FILE).stat().st_mode & 0o777 == 0o600
    assert first.email == creds.ADMIN_EMAIL and re.fullmatch(r"[0-9a-f]{40}", first.token)
    assert creds.load_or_create_credentials(tmp_path / "a") == first
    other = creds.load_or_create_credentials(tmp_path / "b")
    assert other.token != first.token and other.password != first.password


def test_credentials_refuse_a_database_without_them_and_bad_json(tmp_path: Path) -> None:
    (tmp_path / creds.DATABASE_FILE).write_bytes(b"")
    with pytest.raises(LabelStudioError, match="move .* aside"):
        creds.load_or_create_credentials(tmp_path)
    (tmp_path / creds.CREDENTIALS_FILE).write_text("{not json")
    with pytest.raises(LabelStudioError, match="not valid credentials JSON"):
        creds.load_or_create_credentials(tmp_path)


def test_client_credentials_prefer_a_configured_token(minivess_home: Path) -> None:
    hosted = _settings(label_studio_url="https://ls.example.org/", label_studio_token=SecretStr("abc"))
    assert creds.client_credentials(hosted) == ("https://ls.example.org", "abc")
    local = _settings()
    with pytest.raises(LabelStudioError, match="minivess labelstudio up"):
        creds.client_credentials(local)
    created = creds.load_or_create_credentials(creds.data_dir(local))
    assert creds.client_credentials(local) == ("http://127.0.0.1:8089", created.token)
    assert creds.data_dir(local) == minivess_home.resolve() / "labelstudio"


def test_the_executable_comes_from_the_setting_or_the_project_venv(tmp_path: Path) -> None:
    with pytest.raises(LabelStudioError, match="make labelstudio"):
        ls.resolve_executable(_settings(label_studio_venv=tmp_path / "missing"))
    program = tmp_path / "venv" / "bin" / "label-studio"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert ls.resolve_executable(_settings(label_studio_venv=tmp_path / "venv")) == program
    assert ROOT in ls.project_roots()  # default: ROOT/.venv-labelstudio (what `make labelstudio` builds)


@pytest.mark.parametrize(
    ("url", "port"), [("http://127.0.0.1:8089", 8089), ("http://localhost:9000/", 9000), ("http://127.0.0.1:1", 1)]
)
def test_local_port(url: str, port: int) -> None:
    assert ls.local_port(url) == port and ls.is_local(url)


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1:8089", "http://ls.example.org:8080", "http://127.0.0.1", "http://127.0.0.1:8089/ls"]
)
def test_a_non_local_url_cannot_be_served(url: str) -> None:
    with pytest.raises(ConfigError, match="not a local"):
        ls.local_port(url)
    assert not ls.is_local(url)


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ls.port_in_use(port)
    assert not ls.port_in_use(port)


def test_server_env_is_offline_and_leaks_nothing(tmp_path: Path) -> None:
    credentials = creds.Credentials(email="a@b.c", password="pw", token="t" * 40)
    base = {"PATH": "/bin", "HOME": "/root", "HOST": "x", "DEBUG": "1", "LABEL_STUDIO_PORT": "1", "SENTRY_DSN": "y"}
    env = ls.server_env(tmp_path / "ls", credentials, tmp_path, base)
    assert env["PATH"] == "/bin" and not {"HOST", "DEBUG", "LABEL_STUDIO_PORT"} & env.keys()
    assert env["SENTRY_DSN"] == env["FRONTEND_SENTRY_DSN"] == ""
    assert env["COLLECT_ANALYTICS"] == env["LATEST_VERSION_CHECK"] == "false"
    assert env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == env["LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK"] == "true"
    assert env["LABEL_STUDIO_USER_TOKEN"] == credentials.token
    assert env["LABEL_STUDIO_BASE_DATA_DIR"] == str(tmp_path / "ls")
    assert env["LOCAL_FILES_SERVING_ENABLED"] == "false" and "LOCAL_FILES_DOCUMENT_ROOT" not in env


def test_pids_of_other_programs_are_not_servers() -> None:
    assert not processes.is_live_process(_dead_pid())
    assert not processes.is_live_process(os.getpid())  # a live python, not label-studio
    assert not processes.group_alive(_dead_pid())


def test_status_down_and_a_stale_pid_file(minivess_home: Path) -> None:
    server = ls.LabelStudioServer(_settings())
    fresh = server.status()
    assert not fresh.running and fresh.pid is None and fresh.stale_pid is None and not fresh.api_ok
    dead = _dead_pid()
    server.pid_path.parent.mkdir(parents=True)
    server.pid_path.write_text(f"{dead}\n")
    assert server.status().stale_pid == dead and server.running_pid() is None
    assert server.stop() is False
    assert not server.pid_path.exists()


def test_start_refuses_a_taken_port_before_spawning(minivess_home: Path, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = ls.LabelStudioServer(_settings(label_studio_url=f"http://127.0.0.1:{port}"), executable=tmp_path)
        with pytest.raises(LabelStudioError, match=f"port {port} .* taken"):
            server.start()
    assert not server.pid_path.exists() and not server.log_path.exists()


def test_start_refuses_a_hosted_url(minivess_home: Path, tmp_path: Path) -> None:
    server = ls.LabelStudioServer(_settings(label_studio_url="https://ls.example.org"), executable=tmp_path)
    with pytest.raises(ConfigError, match="not a local"):
        server.start()


def test_log_tail(tmp_path: Path) -> None:
    assert ls.log_tail(tmp_path / "none.log") == "(no log yet)"
    (tmp_path / "s.log").write_text("".join(f"line {i}\n" for i in range(100)))
    assert ls.log_tail(tmp_path / "s.log", lines=2) == "line 98\nline 99"


def test_the_makefile_installs_the_version_server_py_expects() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"LABEL_STUDIO_VERSION := {ls.LABEL_STUDIO_VERSION}" in makefile
    assert f"{ls.VENV_DIRNAME}/" in (ROOT / ".gitignore").read_text() or ".venv-*/" in (ROOT / ".gitignore").read_text()


def test_cli_status_and_a_missing_install(minivess_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["labelstudio", "status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["running"] is False
    monkeypatch.setenv("MINIVESS_LABEL_STUDIO_VENV", str(minivess_home / "nowhere"))
    result = runner.invoke(app, ["labelstudio", "up"])
    assert isinstance(result.exception, LabelStudioError) and "make labelstudio" in str(result.exception)
