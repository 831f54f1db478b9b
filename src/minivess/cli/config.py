"""`minivess config`: show the effective settings."""

from __future__ import annotations

import json

import typer

from minivess.cli import render
from minivess.cli.context import get_settings

app = typer.Typer(help="Inspect minivess settings (MINIVESS_* variables and .env).", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Print the effective settings, secrets masked."""
    values = get_settings().masked()
    if as_json:
        typer.echo(json.dumps(values, default=str, indent=2))
    else:
        render.console.print(render.key_value_table("minivess settings", values))
