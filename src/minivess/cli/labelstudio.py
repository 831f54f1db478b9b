"""`minivess labelstudio up | down | status`: the local Label Studio server for the annotation loop."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from minivess.cli import render
from minivess.cli.context import get_settings

if TYPE_CHECKING:
    from minivess.pipelines.annotation.server import LabelStudioServer, ServerStatus

app = typer.Typer(
    help="The local Label Studio server (installed by `make labelstudio`, data in HOME/labelstudio).",
    no_args_is_help=True,
)


def _server() -> LabelStudioServer:
    from minivess.pipelines.annotation.server import LabelStudioServer

    return LabelStudioServer(get_settings())


def _rows(status: ServerStatus) -> dict[str, Any]:
    if not status.local:
        state = "hosted: " + ("answers with the token" if status.api_ok else "does not answer with the token")
    else:
        state = "running" if status.running else "stopped"
    if status.running and not status.api_ok:
        state += " (its API does not answer with the token)"
    if status.stale_pid is not None:
        state += f" (stale pid file: process {status.stale_pid} is gone)"
    return {
        "state": state,
        "url": status.url,
        "pid": status.pid,
        "login": status.email,
        "credentials": status.credentials,
        "data": status.data_dir,
        "log": status.log,
    }


def _show(status: ServerStatus, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(status.model_dump(mode="json"), indent=2) + "\n")
    else:
        render.console.print(render.key_value_table("Label Studio", _rows(status)))


@app.command()
def up(
    timeout: float = typer.Option(300.0, "--timeout", min=1, help="Seconds to wait for the API (first boot ~60 s)."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Start the server on 127.0.0.1 (MINIVESS_LABEL_STUDIO_URL's port) and wait until its API answers.

    The first start creates the admin (admin@minivess.local) with a random password and API token, saved in
    HOME/labelstudio/credentials.json (mode 0600). A no-op when the server already runs.
    """
    server = _server()
    with render.console.status("starting Label Studio (the first boot migrates its database, ~1 min)…"):
        status = server.start(timeout_s=timeout)
    _show(status, as_json)


@app.command()
def down() -> None:
    """Stop the server and every process it started (SIGTERM, then SIGKILL); a no-op when it is not running."""
    server = _server()
    if server.stop():
        render.note(f"stopped Label Studio ({server.url})")
    else:
        render.note("Label Studio was not running")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Running or stopped, pid, URL, whether the API answers with the token, and where its files are."""
    _show(_server().status(), as_json)
