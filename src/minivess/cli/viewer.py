"""`minivess app`: the Gradio viewer on this machine (loopback unless told otherwise)."""

from __future__ import annotations

import math
import os
import shutil
import signal
import time
from types import FrameType

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.cli.network import bind_problem, is_loopback, url_host
from minivess.errors import ConfigError, MinivessError


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, kill) stops as cleanly as Ctrl-C


def app_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; loopback unless --allow-remote."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port to listen on."),
    model: str = typer.Option("champion", "--model", help="Model preselected: champion, challenger or a run id."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow a non-loopback --host (the viewer has no authentication)."
    ),
) -> None:
    """The viewer in the browser: segment a volume, browse slices with prediction and uncertainty, metrics, download.

    Gradio's telemetry is off, no share link is made, and its temp files stay under the minivess home.
    Ctrl-C stops it.
    """
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"refusing to bind {host}: the viewer has no authentication, so anyone who reaches the port could use "
            "it; bind 127.0.0.1 (default) or pass --allow-remote."
        )
    if problem := bind_problem(host, port):
        raise ConfigError(problem)
    if not math.isfinite(get_settings().serve_max_upload_mb):
        raise ConfigError("MINIVESS_SERVE_MAX_UPLOAD_MB must be a finite size in MiB.")
    settings = get_settings()
    temp = settings.home_dir / "gradio"
    temp.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported (~5 s, so only here)
    os.environ["GRADIO_TEMP_DIR"] = str(temp)
    from minivess.serving.viewer import build_app, open_segmenter

    try:  # load the preselected model now, so the first Segment is fast; the UI explains a missing one
        info = open_segmenter(model, "auto", settings).info
        loaded = f"model {model} → run {info.run_id[:8]} ({info.adapter}, {info.engine})"
    except MinivessError as exc:
        render.err_console.print(f"[yellow]{model}: {exc}[/]", soft_wrap=True)
        loaded = f"model {model} not loaded"
    demo = build_app(settings, model)
    signal.signal(signal.SIGTERM, _interrupt)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        ssr_mode=False,
        mcp_server=False,
        max_file_size=int(settings.serve_max_upload_mb * 1024 * 1024),
    )
    render.console.print(
        f"[green]viewer at http://{url_host(host)}:{port}[/] — {loaded}; Ctrl-C stops it", soft_wrap=True
    )
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        render.console.print("stopping the viewer…")
    finally:
        demo.close()  # Gradio deletes the files it made; our masks go too
        shutil.rmtree(temp / "masks", ignore_errors=True)
    render.console.print("viewer stopped.")
