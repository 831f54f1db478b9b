"""The root `minivess` command: joins every command group and turns our errors into exit codes."""

from __future__ import annotations

import logging
import sys

import click
import typer

from minivess import __version__
from minivess.cli import agent, config, data, evals, models, render, runs, traces, train
from minivess.errors import MinivessError

app = typer.Typer(
    name="minivess",
    help="Agentic experiment orchestrator for 3D microvessel segmentation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config.app, name="config")
app.add_typer(data.app, name="data")
app.add_typer(evals.app, name="evals")
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.add_typer(traces.app, name="traces")
app.command("train")(train.train)
app.command("evaluate")(train.evaluate)
app.command("predict")(train.predict)
app.command("ask")(agent.ask)
app.command("chat")(agent.chat)
app.command("approve")(agent.approve)
app.command("reject")(agent.reject)
app.command("threads")(agent.threads)


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
    for noisy in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.ERROR)


def main() -> None:
    """Entry point: a MinivessError becomes a red panel and exit code 2; usage errors keep click's codes."""
    try:
        code = app(standalone_mode=False)
    except MinivessError as exc:
        render.error_panel(type(exc).__name__, str(exc))
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        render.err_console.print("[yellow]Aborted.")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
