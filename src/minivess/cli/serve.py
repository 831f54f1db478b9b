"""`minivess serve`: the HTTP segmentation service (BentoML) as a supervised child process.

`bentoml serve` runs in its own process group; its workers start their own sessions (circus calls setsid), so
they are tracked by pid and stopped with it. BentoML's state (``BENTOML_HOME``, with the Prometheus files its
/metrics merges) lives in HOME/bentoml/port-<port>/: one folder per server, so two servers on one home never
share metrics, and nothing is written to ~/bentoml.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import typer

from minivess.cli import render
from minivess.cli.network import bind_problem, is_loopback, url_host
from minivess.serving import STARTUP_ERROR_FILE

if TYPE_CHECKING:
    from minivess.settings import Settings

SERVICE: Final = "minivess.serving.service:SegmentationService"
SERVICE_NAME: Final = "SegmentationService"
ENGINES: Final = ("auto", "torch", "onnx")
STOP_GRACE_S: Final = 20.0  # from the stop signal to SIGKILL of whatever is left
POLL_S: Final = 0.25


def serve(
    model: str | None = typer.Option(
        None, "--model", help="Registry alias (champion, challenger[:MODEL]) or run id; default MINIVESS_SERVE_MODEL."
    ),
    engine: str | None = typer.Option(
        None, "--engine", help="auto (ONNX Runtime when exported, else torch), torch or onnx; default auto."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="IP address to bind; non-loopback needs --allow-remote."),
    port: int = typer.Option(3000, "--port", min=1, max=65535, help="Port; refused (not moved) when taken."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes; each loads the model."),
    max_upload_mb: float | None = typer.Option(
        None, "--max-upload-mb", help="Largest upload in MiB (also decompressed); default 256."
    ),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        envvar="MINIVESS_SERVE_ALLOW_REMOTE",
        help="Allow a non-loopback --host (the service has no authentication); containers set the variable.",
    ),
) -> None:
    """Serve segmentation over HTTP until Ctrl-C: POST /segment, GET /healthz, GET /metrics (see docs/serving.md).

    Exits 2 (one line) when the model cannot be served, with the server's exit code otherwise.
    """
    from minivess.cli.context import get_settings

    started = time.monotonic()
    settings = get_settings()
    model = model or settings.serve_model
    engine = engine or settings.serve_engine
    limit_mb = max_upload_mb if max_upload_mb is not None else settings.serve_max_upload_mb
    if engine not in ENGINES:
        _fail(f"--engine {engine}: choose one of {', '.join(ENGINES)}.")
    if not math.isfinite(limit_mb) or limit_mb <= 0:
        _fail(f"--max-upload-mb {limit_mb:g}: give a positive size in MiB.")
    _check_host(host, allow_remote)
    if problem := bind_problem(host, port):
        _fail(problem)
    run_id = _resolve_model(model, settings)
    state = settings.home_dir / "bentoml" / f"port-{port}"
    state.mkdir(parents=True, exist_ok=True)
    (state / STARTUP_ERROR_FILE).unlink(missing_ok=True)
    env = _child_env(settings, state, model, engine, limit_mb, workers)
    command = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    render.note(f"starting {model} (run {run_id[:8]}) on {_url(host, port)} with {workers} worker(s)…")
    code = _run(command, env, host, port, state, started)
    if code:
        raise typer.Exit(code)


def _fail(message: str) -> NoReturn:
    """One red line on stderr and exit 2: the server cannot (or must not) start."""
    render.error_line("serve", message)
    raise typer.Exit(2)


def _check_host(host: str, allow_remote: bool) -> None:
    if not is_loopback(host) and not allow_remote:
        _fail(
            f"refusing --host {host}: the service has no authentication, so anyone who reaches the port could use "
            "it; pass --allow-remote (or MINIVESS_SERVE_ALLOW_REMOTE=1) on a trusted network."
        )


def _url(host: str, port: int) -> str:
    return f"http://{url_host(host)}:{port}"


def _probe_url(host: str, port: int) -> str:
    """Where this machine reaches the server: loopback for a wildcard bind."""
    wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}
    return _url(wildcard.get(host, host), port)


def _resolve_model(model: str, settings: Settings) -> str:
    """The run behind ``model``, found here (no worker started) so a missing champion is one line, exit 2."""
    from minivess.errors import MinivessError
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.registry import alias_ref, resolve_model_ref

    try:
        return resolve_model_ref(client_for(settings.tracking_uri), model)
    except MinivessError as exc:
        hint = "; register a run under that alias first, or pass --model RUN_ID|last." if alias_ref(model) else ""
        _fail(f"cannot serve --model {model}: {str(exc).rstrip('.') if hint else exc}{hint}")


def _child_env(
    settings: Settings, state: Path, model: str, engine: str, limit_mb: float, workers: int
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MINIVESS_HOME": str(settings.home_dir),
            "MINIVESS_SERVE_MODEL": model,
            "MINIVESS_SERVE_ENGINE": engine,
            "MINIVESS_SERVE_MAX_UPLOAD_MB": repr(limit_mb),
            "BENTOML_HOME": str(state),
            "BENTOML_DO_NOT_TRACK": "True",
            "BENTOML_CONFIG_OVERRIDES": json.dumps({"services": {SERVICE_NAME: {"workers": workers}}}),
        }
    )
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: BentoML's supervisor gets SIGTERM if this process dies without stopping it (kill -9)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def _run(command: list[str], env: dict[str, str], host: str, port: int, state: Path, started: float) -> int:
    """Run the server until it exits or a stop signal arrives; its exit code (128 + N when signal N killed it)."""
    import psutil  # type: ignore[import-untyped]  # a dependency of BentoML's process manager (circus)

    stop: list[int] = []

    def request_stop(signum: int, frame: Any) -> None:
        stop.append(signum)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, request_stop) for sig in stops}
    proc = subprocess.Popen(  # cwd: BentoML puts its working folder first on sys.path; the user's is not ours
        command, env=env, cwd=state, stdin=subprocess.DEVNULL, process_group=0, preexec_fn=_die_with_parent
    )
    tree: dict[int, Any] = {}  # every process the server started, kept in case its supervisor dies first
    ready = False
    try:
        while proc.poll() is None and not stop:
            with contextlib.suppress(psutil.Error):
                tree.update({p.pid: p for p in psutil.Process(proc.pid).children(recursive=True)})
            if (state / STARTUP_ERROR_FILE).is_file():
                reason = (state / STARTUP_ERROR_FILE).read_text().strip()
                _stop(proc, tree)
                _fail(f"the model could not be loaded — {reason}")
            if not ready and (info := _healthz(_probe_url(host, port))) is not None:
                ready = True
                _announce(info, host, port, time.monotonic() - started)
            time.sleep(POLL_S)
        if not ready and not stop and proc.returncode:
            render.error_line("serve", f"the server exited with code {proc.returncode} before it was ready.")
    finally:
        code = _stop(proc, tree)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


def _healthz(base: str) -> dict[str, Any] | None:
    """The server's /healthz JSON once it answers 200, else None."""
    import urllib.error
    import urllib.request

    try:
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # our own loopback server
        with no_proxy.open(f"{base}/healthz", timeout=1.0) as answer:
            body: dict[str, Any] = json.loads(answer.read())
            return body
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _announce(info: dict[str, Any], host: str, port: int, seconds: float) -> None:
    url = _url(host, port)
    render.console.print(
        f"[green]serving {info['model_ref']}[/] (run {info['run_id']}, {info['adapter']}, engine {info['engine']}) "
        f"at {url} — ready in {seconds:.1f} s",
        soft_wrap=True,
        highlight=False,
    )
    render.err_console.print(
        f"[dim]POST {url}/segment · GET {url}/healthz · GET {url}/metrics · Ctrl-C stops it", soft_wrap=True
    )


def _stop(proc: subprocess.Popen[bytes], tree: dict[int, Any]) -> int:
    """SIGTERM the server's group (BentoML stops its workers), SIGKILL what is left after STOP_GRACE_S."""
    import psutil

    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)  # never SIGHUP: circus reloads its workers on it
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)  # anything left in its group
    left = [p for p in tree.values() if p.is_running()]
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(left, timeout=5.0)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    return proc.returncode


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(pgid, signum)
