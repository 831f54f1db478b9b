"""The real Label Studio server: generated admin token, status, idempotent up, down kills the group, stale pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minivess.pipelines.annotation import credentials as creds
from minivess.pipelines.annotation import server as ls
from tests.labelstudio.conftest import RunningServer, clone_home, free_port

pytestmark = pytest.mark.labelstudio


def _live_group_members(pgid: int) -> list[int]:
    """Non-zombie processes of a process group, read straight from /proc (independent of the code under test)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pgid) and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _cli(home: Path, url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIVESS_", "LABEL_STUDIO_"))}
    env.update(MINIVESS_HOME=str(home), MINIVESS_LABEL_STUDIO_URL=url)
    return subprocess.Popen(
        [sys.executable, "-m", "minivess", "labelstudio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _run(home: Path, url: str, *args: str) -> str:
    process = _cli(home, url, *args)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, f"labelstudio {' '.join(args)} exited {process.returncode}\n{out}\n{err}"
    return out


def test_up_creates_an_admin_whose_token_opens_the_api(label_studio: RunningServer) -> None:
    credentials_path = label_studio.home / creds.DIRNAME / creds.CREDENTIALS_FILE
    assert credentials_path.stat().st_mode & 0o777 == 0o600
    credentials = creds.Credentials.model_validate_json(credentials_path.read_text())
    assert credentials.email == creds.ADMIN_EMAIL and len(credentials.token) == 40
    assert credentials.token == label_studio.token
    assert ls.api_status(label_studio.url, label_studio.token) == 200
    assert ls.api_status(label_studio.url, "0" * 40) == 401


def test_the_sdk_client_works_with_client_credentials(label_studio: RunningServer) -> None:
    from label_studio_sdk import LabelStudio

    url, token = creds.client_credentials(label_studio.settings)
    assert (url, token) == (label_studio.url, label_studio.token)
    client = LabelStudio(base_url=url, api_key=token)
    project = client.projects.create(title="minivess fixture check", label_config="<View></View>")
    try:
        assert project.id in [p.id for p in client.projects.list()]
    finally:
        client.projects.delete(project.id)


def test_server_runs_offline_in_its_own_process_group(label_studio: RunningServer) -> None:
    pid = label_studio.server.read_pid()
    assert pid is not None and os.getpgid(pid) == pid  # start_new_session: leader of its own group
    environ = dict(
        item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item
    )
    for name, value in {"SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "COLLECT_ANALYTICS": "false"}.items():
        assert environ[name] == value
    assert environ["LATEST_VERSION_CHECK"] == "false"
    assert environ["LABEL_STUDIO_BASE_DATA_DIR"] == str(label_studio.home / creds.DIRNAME)
    assert (label_studio.home / creds.DIRNAME / creds.DATABASE_FILE).exists()  # SQLite under the minivess home


def test_status_reports_the_running_server(label_studio: RunningServer) -> None:
    status = label_studio.server.status()
    assert status.running and status.api_ok and status.local
    assert status.pid == label_studio.server.read_pid()
    assert status.url == label_studio.url and status.email == creds.ADMIN_EMAIL


def test_a_second_up_is_a_noop(label_studio: RunningServer) -> None:
    before = label_studio.server.read_pid()
    started = time.monotonic()
    status = ls.LabelStudioServer(label_studio.settings).start()
    assert status.pid == before and status.api_ok
    assert time.monotonic() - started < 5


def test_lifecycle_through_the_cli(label_studio: RunningServer, tmp_path: Path) -> None:
    """On a copy of the session's data (a warm start, ~6 s): stale pid, two `up` at once, `down` kills the group."""
    home, url = tmp_path / "clone", f"http://127.0.0.1:{free_port()}"
    clone_home(label_studio.home, home)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (home / creds.DIRNAME / ls.PID_FILE).write_text(f"{gone.pid}\n")  # a crashed server's leftover

    stale = json.loads(_run(home, url, "status", "--json"))
    assert not stale["running"] and stale["stale_pid"] == gone.pid

    racers = [_cli(home, url, "up", "--json") for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in racers]
    for code, out, err in results:
        assert code == 0, f"up exited {code}\n{out}\n{err}"
    pids = {json.loads(out)["pid"] for _, out, _ in results}
    assert len(pids) == 1, f"two servers started: {pids}"
    pid = pids.pop()
    assert pid != gone.pid and (home / creds.DIRNAME / ls.PID_FILE).read_text().strip() == str(pid)
    assert ls.api_status(url, label_studio.token) == 200  # the cloned admin and token
    assert _live_group_members(pid)

    _run(home, url, "down")
    assert _live_group_members(pid) == []
    assert not (home / creds.DIRNAME / ls.PID_FILE).exists()
    assert ls.api_status(url, label_studio.token) is None
    after = json.loads(_run(home, url, "status", "--json"))
    assert not after["running"] and after["pid"] is None and after["stale_pid"] is None
    _run(home, url, "down")  # down when stopped: a no-op
