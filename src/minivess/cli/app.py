"""The root `minivess` command: joins every command group and turns our errors into exit codes."""

from __future__ import annotations

import logging
import sys

import typer

from minivess import __version__
from minivess.cli import config, data
from minivess.cli import render
from minivess.errors import MinivessError

app = typer.Typer(
    name="minivess",
    help="Agentic experiment orchestrator for 3D microvessel segmentation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config.app, name="config")
app.add_typer(data.app, name="data")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"minivess {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug messages."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """minivess: plan, run and analyse vessel-segmentation experiments."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    """Entry point: run the app; a MinivessError becomes a red panel and exit code 2."""
    try:
        app(standalone_mode=False)
    except MinivessError as exc:
        render.error_panel(type(exc).__name__, str(exc))
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        render.err_console.print("[yellow]Aborted.")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
