"""`minivess audit log | verify | export DEST`: the hash-chained audit trail of decisions (docs/governance.md).

Exit codes: 0 fine, 1 `verify` found the trail edited, truncated or torn, 2 an error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from minivess.cli import render
from minivess.cli.context import get_settings

VERIFY_FAILED_EXIT = 1

app = typer.Typer(help="The audit trail: every promotion, approval, data version, label import and gate result.",
                  no_args_is_help=True)  # fmt: skip


@app.command("log")
def log_command(
    kind: str | None = typer.Option(None, "--kind", help="Only this kind (promotion, approval, rejection, …)."),
    limit: int = typer.Option(50, "--limit", min=1, help="Newest entries shown."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per entry."),
) -> None:
    """List the newest entries (who, what, why, with run, data version and trace)."""
    from minivess.pipelines.governance.audit import entries

    found = [e for e in entries(get_settings()) if kind is None or e.kind == kind][-limit:]
    if as_json:
        sys.stdout.write(json.dumps([e.model_dump() for e in found], indent=2) + "\n")
        return
    if not found:
        render.note("no audit entries yet" + (f" of kind {kind}" if kind else ""))
        return
    rows = [
        (e.seq, e.time[:19], e.kind, e.subject, e.actor, e.reason or "", (e.mlflow_run_id or "")[:8], e.hash[:10])
        for e in found
    ]
    columns = ["seq", "time (UTC)", "kind", "subject", "actor", "reason", "run", "hash"]
    render.console.print(render.records_table("audit trail", columns, rows))


@app.command()
def verify() -> None:
    """Recompute the hash chain; exit 1 naming every edited, deleted, reordered or cut-off entry."""
    from minivess.pipelines.governance.audit import verify as verify_trail

    check = verify_trail(get_settings())
    if check.ok:
        head = f", head {check.head[:16]}" if check.head else ""
        render.console.print(f"[green]audit trail intact: {check.entries} entries{head}")
        return
    for problem in check.problems:
        render.err_console.print(f"[red]{problem}")
    render.console.print(f"[red]audit trail BROKEN: {len(check.problems)} problem(s) in {check.entries} entries")
    raise typer.Exit(VERIFY_FAILED_EXIT)


@app.command()
def export(dest: Path = typer.Argument(..., help="A new (or empty) folder for the release record.")) -> None:
    """Write a release record: the verified log, the check, the SOUP list, git commit, lockfile hash, champion."""
    from minivess.pipelines.governance.audit import export_release

    settings = get_settings()
    out = export_release(settings, dest.expanduser().resolve(), champion=_champion(settings))
    files = ", ".join(sorted(path.name for path in out.iterdir()))
    render.console.print(f"[green]release record written to {out}[/] ({files})")


def _champion(settings: Any) -> dict[str, Any] | None:
    """The champion's registry facts, when a tracking store with one exists (never creates a store)."""
    from minivess.errors import MinivessError

    if settings.mlflow_tracking_uri is None and not (settings.home_dir / "mlflow.db").is_file():
        return None
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.naming import DEFAULT_REGISTERED_MODEL
    from minivess.pipelines.tracking.registry import resolve_version

    try:
        version = resolve_version(client_for(settings.tracking_uri), DEFAULT_REGISTERED_MODEL, "champion")
    except MinivessError:
        return None
    return {"model": DEFAULT_REGISTERED_MODEL, "version": str(version.version), "run_id": version.run_id}
