"""`minivess agent serve`: the chat graph behind LangGraph's own HTTP server, for LangGraph Studio and langgraph-sdk.

The server is `langgraph dev`, run as a child process in its own process group with its working directory in
HOME/agent-server/ (it writes `.langgraph_api/` there, never in the user's folder) and a generated langgraph.json
that names the graph by module, so it does not matter where the command is run from.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from minivess.cli import render
from minivess.cli.network import bind_problem, is_loopback, url_host

if TYPE_CHECKING:
    from minivess.settings import Settings

app = typer.Typer(help="The agent over HTTP: LangGraph's server for Studio and langgraph-sdk.", no_args_is_help=True)

GRAPH_ID = "minivess_chat"
GRAPH_SPEC = "minivess.graphs.chat:make_graph"  # a module reference: resolved through the installed package
SERVER_DIR = "agent-server"  # under the home: the generated langgraph.json, the lock and LangGraph's .langgraph_api/
STUDIO_ORIGIN = "https://smith.langchain.com"
STUDIO = f"{STUDIO_ORIGIN}/studio/?baseUrl="
STOP_GRACE_S = 15.0  # after the first forwarded signal, then SIGKILL to the whole group
USAGE_EXIT = 2


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; loopback only unless --allow-remote."),
    port: int = typer.Option(2024, "--port", min=1, max=65535, help="Port; refused (not moved) when it is taken."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a non-loopback --host (the server has no authentication)."
    ),
) -> None:
    """Serve the chat graph (graph id minivess_chat) with `langgraph dev` until Ctrl-C; exits with the server's code.

    One server per home: its threads live in HOME/agent-server/.langgraph_api/ (separate from `minivess threads`),
    and a second `serve` on the same home stops with one line naming the first.
    """
    if not is_loopback(host):
        if not allow_remote:
            _fail(
                f"refusing --host {host}: it is not a loopback address and LangGraph's dev server has no "
                "authentication, so anyone who reaches the port could train, overwrite data and promote models in "
                "this home; pass --allow-remote on a trusted network."
            )
        render.note(f"serving on {host} without authentication: anyone who reaches port {port} can run the agent")
    if _missing_server():
        _fail(
            "LangGraph's server is not installed; install `langgraph-cli[inmem]` (in minivess's dev extra: "
            "pip install -e '.[dev]')."
        )
    from minivess.cli.context import get_settings

    settings = get_settings()
    server_dir = settings.home_dir / SERVER_DIR
    server_dir.mkdir(exist_ok=True)
    url = f"http://{url_host(host)}:{port}"
    lock_fd = _lock_home(server_dir, url)
    try:
        if problem := bind_problem(host, port):
            _fail(problem)
        config = _write_config(server_dir)
        for line in (f"LangGraph server, graph {GRAPH_ID}: {url}", f"Studio: {STUDIO}{url}"):
            render.err_console.print(line, soft_wrap=True, highlight=False)
        render.note(f"threads in {server_dir / '.langgraph_api'}; Ctrl-C stops the server")
        code = _run(_command(host, port, config), server_dir, _child_env(settings), lock_fd)
    finally:
        os.close(lock_fd)
    if code:
        raise typer.Exit(code)


def _fail(message: str) -> NoReturn:
    """One red line on stderr and exit 2: a problem found before the server started."""
    render.error_line("agent serve", message)
    raise typer.Exit(USAGE_EXIT)


def _missing_server() -> bool:
    from importlib.util import find_spec

    return find_spec("langgraph_cli") is None or find_spec("langgraph_api") is None


def _lock_home(server_dir: Path, url: str) -> int:
    """Hold HOME/agent-server/server.lock for the server's life (the child inherits it), or exit naming the holder."""
    import fcntl

    fd = os.open(server_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        os.close(fd)
        _fail(
            f"another `minivess agent serve` already serves this home ({holder}); use it, stop it, "
            "or serve another home (MINIVESS_HOME)."
        )
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)
    return fd


def _read_holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"{holder['url']}, pid {holder['pid']}"
    except (ValueError, KeyError, TypeError):
        return "its address is unknown"


def _write_config(server_dir: Path) -> Path:
    """HOME/agent-server/langgraph.json: the graph by module, the dependency the folder holding our package."""
    from importlib.util import find_spec

    spec = find_spec("minivess")
    if spec is None or spec.origin is None:  # pragma: no cover - we are running from it
        raise RuntimeError("the minivess package cannot be located")
    config = {
        "dependencies": [str(Path(spec.origin).resolve().parent.parent)],
        "graphs": {GRAPH_ID: GRAPH_SPEC},
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    path = server_dir / "langgraph.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


def _command(host: str, port: int, config: Path) -> list[str]:
    """`langgraph dev` with this interpreter: no browser, no reload (it serves the installed package, and the
    reloader adds a process), one run at a time (runs train on this machine's CPU and share the home's stores)."""
    return [
        *(sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload", "--n-jobs-per-worker", "1"),
        *("--host", host, "--port", str(port), "--config", str(config)),
    ]


def _child_env(settings: Settings) -> dict[str, str]:
    """The environment with ./.env read as `Settings` reads it and every path setting absolute (the child runs in
    the home, so relative paths would change meaning); no version check or CLI analytics calls home."""
    from dotenv import dotenv_values

    dotenv = Path(".env")
    env = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} if dotenv.is_file() else {}
    env.update(os.environ)
    for name in type(settings).model_fields:
        if isinstance(value := getattr(settings, name), Path):
            env[f"MINIVESS_{name.upper()}"] = str(value.expanduser().resolve())
    env["MINIVESS_HOME"] = str(settings.home_dir)
    # LangGraph's server allows every origin by default, so any web page open in the user's browser could drive
    # the agent on 127.0.0.1; only LangGraph Studio's origin may (set CORS_ALLOW_ORIGINS to change it).
    env.setdefault("CORS_ALLOW_ORIGINS", STUDIO_ORIGIN)
    env.setdefault("LANGGRAPH_NO_VERSION_CHECK", "true")
    env.setdefault("LANGGRAPH_CLI_NO_ANALYTICS", "1")
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the server gets SIGTERM if this process dies without forwarding (kill -9), so it is never orphaned."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def _run(command: list[str], cwd: Path, env: dict[str, str], lock_fd: int) -> int:
    """Run the server in its own process group; SIGINT/SIGTERM/SIGHUP go to the group; the exit code is the server's
    (128 + N when a signal killed it)."""
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, process_group=0, pass_fds=(lock_fd,),
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    code = _supervise(proc)
    return 128 - code if code < 0 else code


def _supervise(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the server, forwarding stop signals; SIGKILL the group STOP_GRACE_S after the first one."""
    stop_by: list[float] = []

    def forward(signum: int, frame: Any) -> None:
        _signal_group(proc.pid, signum)
        stop_by.append(time.monotonic() + STOP_GRACE_S)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in stops}
    try:
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if stop_by and time.monotonic() > stop_by[0]:
                    _signal_group(proc.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # this process is being torn down some other way: take the server with it
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # anything the server left in its group


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, signum)
