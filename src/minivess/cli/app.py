"""The root `minivess` command: joins every command group and turns our errors into exit codes."""

from __future__ import annotations

import atexit
import gc
import logging
import sys

import typer

from minivess import __version__
from minivess.cli import (
    agent,
    agent_server,
    audit,
    cards,
    config,
    data,
    evals,
    labels,
    lineage,
    models,
    render,
    runs,
    search,
    serve,
    serving,
    traces,
    train,
    uncertainty,
    viewer,
)
from minivess.cli import labelstudio as labelstudio_cli
from minivess.errors import MinivessError

app = typer.Typer(
    name="minivess",
    help="Agentic experiment orchestrator for 3D microvessel segmentation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(agent_server.app, name="agent")
app.add_typer(audit.app, name="audit")
app.add_typer(config.app, name="config")
app.add_typer(data.app, name="data")
app.add_typer(evals.app, name="evals")
app.add_typer(labels.app, name="labels")
app.add_typer(labelstudio_cli.app, name="labelstudio")
app.add_typer(models.app, name="models")
app.add_typer(runs.app, name="runs")
app.add_typer(search.app, name="search")
app.add_typer(traces.app, name="traces")
app.command("train")(train.train)
app.command("evaluate")(train.evaluate)
app.command("predict")(train.predict)
app.command("export")(serving.export)
app.command("serve")(serve.serve)
app.command("calibrate")(uncertainty.calibrate)
app.command("conformal")(uncertainty.conformal)
app.command("ensemble")(uncertainty.ensemble)
app.command("soup")(uncertainty.soup)
app.command("gate")(uncertainty.gate)
app.command("ask")(agent.ask)
app.command("chat")(agent.chat)
app.command("approve")(agent.approve)
app.command("reject")(agent.reject)
app.command("threads")(agent.threads)
app.command("nightly")(search.nightly)
app.command("app")(viewer.app_command)
app.command("card")(cards.card)
app.command("lineage")(lineage.lineage)


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


# Commands that neither read nor write the home: they work with any MINIVESS_HOME (config show reports it).
_NO_HOME_COMMANDS = frozenset({"config", "models"})


def _needs_home(argv: list[str]) -> bool:
    """Whether this command line runs a command that uses the home (not help, version or a home-free group)."""
    if not argv or "--help" in argv or "--version" in argv:
        return False
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return command is not None and command not in _NO_HOME_COMMANDS


def check_home(argv: list[str]) -> None:
    """Refuse a bad home (empty, a file, not creatable, read-only) in one line with exit 2, before any work."""
    if not _needs_home(argv):
        return
    from pydantic import ValidationError

    from minivess.cli.context import get_settings

    try:
        get_settings().check_home()
    except MinivessError as exc:
        render.error_line(type(exc).__name__, str(exc))
        sys.exit(2)
    except ValidationError as exc:  # e.g. MINIVESS_MAX_STEPS=abc: name the variable instead of a traceback
        problems = "; ".join(f"MINIVESS_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        render.error_line("ConfigError", f"invalid settings — {problems}; fix or unset the variable.")
        sys.exit(2)


def main() -> None:
    """Entry point: a MinivessError becomes a red panel and exit code 2; usage errors keep click's codes."""
    # Last of the exit handlers (they run in reverse): the interpreter's final garbage collections would walk every
    # object the command loaded (~0.3 s after `ask` here) to free memory the OS frees anyway; frozen objects are
    # skipped. The exit handlers registered later (OpenTelemetry's span flush, Langfuse's, Ray's) and module teardown
    # run as before.
    atexit.register(gc.freeze)
    check_home(sys.argv[1:])
    try:
        code = app(standalone_mode=False)
    except MinivessError as exc:
        render.error_panel(type(exc).__name__, str(exc))
        sys.exit(2)
    except typer.TyperException as exc:  # Typer >= 0.26 vendors Click: its usage errors derive from this, not click's
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            render.error_line("usage", exc.format_message())
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        render.err_console.print("[yellow]Aborted.")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
