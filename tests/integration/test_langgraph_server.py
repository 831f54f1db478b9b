"""`minivess agent serve`: LangGraph's own server runs the chat graph over HTTP (langgraph-sdk): interrupt, resume."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient

from tests.helpers import free_port, port_is_free

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GRAPH = "minivess_chat"
START_TIMEOUT_S = 120.0
SYNTH_REQUEST = "generate 4 synthetic volumes of size 32 32 16"
PLANNED = {"n": 4, "shape": [32, 32, 16]}


@dataclass
class Server:
    url: str
    port: int
    home: Path
    cwd: Path  # the "user's folder" the command was started from
    log: Path
    proc: subprocess.Popen[bytes]
    started_s: float

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def _env(home: Path) -> dict[str, str]:
    """This process's environment without service settings (as tests/conftest.py clears them), tracing off."""
    prefixes = ("MINIVESS_", "LANGFUSE_", "BRAINTRUST_", "LABEL_STUDIO_", "MLFLOW_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return {**env, "MINIVESS_HOME": str(home), "MINIVESS_TRACING": "off", "COLUMNS": "200"}


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"the server exited with {server.proc.returncode}:\n{server.log_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}/ok", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer /ok within {START_TIMEOUT_S:.0f} s:\n{server.log_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `minivess agent serve` for the module, started from an empty folder with a fresh home."""
    root = tmp_path_factory.mktemp("agent-server")
    home, cwd = root / "home", root / "user-folder"
    cwd.mkdir()
    port = free_port()
    log = root / "server.log"
    tic = time.monotonic()
    with log.open("wb") as out:  # its own session: SIGINT to its group is a terminal's Ctrl-C
        proc = subprocess.Popen(
            [sys.executable, "-m", "minivess", "agent", "serve", "--port", str(port)],
            cwd=cwd, env=_env(home), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    running = Server(f"http://127.0.0.1:{port}", port, home, cwd, log, proc, 0.0)
    try:
        _wait_ready(running)
        running.started_s = time.monotonic() - tic
        yield running
    finally:
        if proc.poll() is None:  # a test failed before the Ctrl-C test
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()  # the server gets SIGTERM when its parent dies (PR_SET_PDEATHSIG)
                proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server: Server) -> SyncLangGraphClient:
    return get_sync_client(url=server.url)


def _ask(client: SyncLangGraphClient, thread_id: str, text: str) -> dict[str, Any]:
    """A bare `{"messages": [...]}` input, as Studio or any SDK user sends it; returns the thread's state."""
    client.runs.wait(thread_id, GRAPH, input={"messages": [{"role": "user", "content": text}]})
    return dict(client.threads.get_state(thread_id))


def _interrupts(state: dict[str, Any]) -> list[Any]:
    return [i["value"] for task in state["tasks"] for i in task.get("interrupts", [])]


def _answer(state: dict[str, Any]) -> str:
    return str(state["values"]["messages"][-1]["content"])


def test_the_server_serves_the_chat_graph(server: Server, client: SyncLangGraphClient) -> None:
    assert [a["graph_id"] for a in client.assistants.search(graph_id=GRAPH)] == [GRAPH]
    config = json.loads((server.home / "agent-server" / "langgraph.json").read_text())
    assert config["graphs"] == {GRAPH: "minivess.graphs.chat:make_graph"}
    assert all(Path(dep).is_absolute() for dep in config["dependencies"])


def test_an_overwrite_waits_for_approval_and_runs_after_resume(server: Server, client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    raw = server.home / "data" / "synthetic" / "raw"

    first = _ask(client, thread_id, SYNTH_REQUEST)  # a new dataset: nothing to approve
    assert first["next"] == [] and _interrupts(first) == [], _answer(first)
    assert "Generated 4 synthetic volume(s)" in _answer(first)
    assert len(list(raw.glob("*.nii.gz"))) == 4
    stamp = (raw / "synth_000.nii.gz").stat().st_mtime_ns

    # The second bare request on the thread is a new request (fresh counters: not a "loop"), and it overwrites.
    second = _ask(client, thread_id, SYNTH_REQUEST)
    assert second["next"] == ["approval"], _answer(second)
    [question] = _interrupts(second)[0]["questions"]
    assert question["tool"] == "synthesize_data"
    assert {k: question["arguments"][k] for k in PLANNED} == PLANNED
    assert "overwrites the existing dataset" in question["reason"]
    assert second["values"]["steps"] < first["values"]["steps"] and second["values"]["executed"] == []
    assert (raw / "synth_000.nii.gz").stat().st_mtime_ns == stamp  # nothing ran before the approval

    resume = {"approved": True, "by": "sdk-test", "comment": "overwrite is fine"}
    client.runs.wait(thread_id, GRAPH, command={"resume": resume})
    final = dict(client.threads.get_state(thread_id))
    assert final["next"] == [] and _interrupts(final) == []
    values = final["values"]
    tool = next(m for m in reversed(values["messages"]) if m["role"] == "tool" and m["name"] == "synthesize_data")
    result = json.loads(tool["content"])
    assert {k: result[k] for k in PLANNED} == PLANNED and Path(result["path"]).parent == server.home / "data"
    assert "Generated 4 synthetic volume(s)" in _answer(final) and values["stop_reason"] is None
    record = values["approvals"][-1]
    assert {k: record[k] for k in resume} == resume and record["questions"] == [question]
    assert (raw / "synth_000.nii.gz").stat().st_mtime_ns != stamp


def test_a_bare_messages_analytics_request_answers_without_an_interrupt(client: SyncLangGraphClient) -> None:
    thread_id = client.threads.create()["thread_id"]
    state = _ask(client, thread_id, "show the leaderboard")
    assert state["next"] == [] and _interrupts(state) == []
    assert state["values"]["executed"][0].startswith("leaderboard:")
    assert "leaderboard" in _answer(state).lower()


def _serve_once(*args: str, server: Server, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "minivess", "agent", "serve", *args]
    env = _env(home or server.home)
    return subprocess.run(command, cwd=server.cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_second_server_on_the_same_home_is_refused_in_one_line(server: Server) -> None:
    second = _serve_once("--port", str(free_port()), server=server)
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "already serves this home" in lines[0] and server.url in lines[0]


def test_a_taken_port_is_refused_not_moved(server: Server, tmp_path: Path) -> None:
    taken = _serve_once("--port", str(server.port), server=server, home=tmp_path / "other-home")
    assert taken.returncode == 2
    assert f"port {server.port} on 127.0.0.1 is already in use" in taken.stderr


def test_a_non_loopback_host_is_refused_without_allow_remote(server: Server) -> None:
    refused = _serve_once("--host", "0.0.0.0", server=server)
    assert refused.returncode == 2
    assert "not a loopback address" in refused.stderr and "--allow-remote" in refused.stderr


def test_ctrl_c_stops_the_server_frees_the_port_and_left_the_folder_alone(server: Server) -> None:
    os.killpg(server.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground group
    assert server.proc.wait(timeout=60) == 0, server.log_text()
    assert port_is_free(server.port)
    # The server (which inherited the home's lock) is gone too: the lock is free.
    with (server.home / "agent-server" / "server.lock").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert list(server.cwd.iterdir()) == []  # no .langgraph_api/, no .minivess/: the user's folder is theirs
    assert (server.home / "agent-server" / ".langgraph_api").is_dir()
