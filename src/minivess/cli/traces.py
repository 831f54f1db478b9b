"""`minivess traces …`: list, show, export and score the traces in the local store (HOME/traces.db)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.errors import ConfigError

if TYPE_CHECKING:
    from minivess.observability import TraceStore

app = typer.Typer(
    help="Traces of agent decisions: the local store (HOME/traces.db), also in Langfuse when keys are set.",
    no_args_is_help=True,
)


class Source(StrEnum):
    """Who gave a score."""

    user = "user"
    eval = "eval"


def _store() -> TraceStore:
    from minivess.observability import TraceStore
    from minivess.observability.store import STORE_FILENAME

    return TraceStore(get_settings().home_dir / STORE_FILENAME)


@app.command("list")
def list_traces(
    session: str | None = typer.Option(None, "--session", "-s", help="Only traces of this chat thread."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Most traces shown (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The most recent traces with duration, tokens, cost and errors."""
    store = _store()
    summaries = store.list_traces(session_id=session, limit=limit)
    if as_json:
        sys.stdout.write(json.dumps([s.model_dump() for s in summaries], indent=2) + "\n")
        return
    if not summaries:
        render.note(f"no traces in {store.path} yet" + (f" for session {session}" if session else ""))
        return
    from minivess.cli import render_traces

    render.console.print(render_traces.traces_table(summaries))


@app.command()
def show(
    trace_id: str = typer.Argument(..., help="Trace id or a unique prefix of it (see `minivess traces list`)."),
    full: bool = typer.Option(False, "--full", help="Show inputs and outputs whole, not abbreviated."),
) -> None:
    """One trace as a tree: timings, types, models, tokens, cost, inputs/outputs and scores."""
    detail = _store().trace(trace_id)
    from minivess.cli import render_traces

    render.console.print(render_traces.trace_tree(detail, full=full))


@app.command()
def export(
    trace_id: str = typer.Argument(..., help="Trace id or a unique prefix of it."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the JSON here instead of stdout."),
) -> None:
    """One trace as JSON: summary, nested observations (inputs/outputs parsed) and scores."""
    text = json.dumps(_store().trace(trace_id).as_json(), indent=2, default=str, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    render.note(f"wrote {output}")


def _parse_value(raw: str) -> float | bool | str:
    lowered = raw.strip().lower()
    if lowered in ("true", "yes", "good"):
        return True
    if lowered in ("false", "no", "bad"):
        return False
    try:
        return float(lowered)
    except ValueError:
        return raw


@app.command()
def score(
    trace_id: str = typer.Argument(..., help="Trace id or a unique prefix of it."),
    name: str = typer.Argument(..., help="Score name, e.g. user_feedback."),
    value: str = typer.Argument(..., help="A number, true/false (good/bad → 1/0) or a category."),
    comment: str | None = typer.Option(None, "--comment", "-c", help="Why (stored with the score)."),
    source: Source = typer.Option(Source.user, "--source", help="user (feedback) or eval."),
) -> None:
    """Score a trace: stored locally, and sent to Langfuse when keys are configured."""
    settings = get_settings()
    from minivess.observability import get_tracer

    tracer = get_tracer(settings)
    if not tracer.enabled:
        raise ConfigError("tracing is off (MINIVESS_TRACING=off); unset it to record scores.")
    store = _store()
    full_id = store.resolve(trace_id)
    score_id = tracer.score(full_id, name, _parse_value(value), comment=comment, source=source.value)
    tracer.flush()
    delivered = next((s.langfuse for s in store.scores(full_id) if s.id == score_id), "local")
    render.console.print(f"scored trace [cyan]{full_id}[/]: {name} = {value} (langfuse: {delivered})")
