"""Rich rendering of agent turns: hand-offs, tool calls with arguments, results as tables, approvals."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from minivess.cli import render_uncertainty
from minivess.cli.render import cell, console, fit_run_ids, is_run_id_column, run_id_cell


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def call_line(name: str, arguments: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={_short(v, 40)}" for k, v in arguments.items())
    return f"[bold cyan]⚙ {name}[/]({args})"


# Preferred columns for record-shaped results (dotted paths into each row); others fall back to the first 8.
PREFERRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "leaderboard": ("rank", "group", "run.run_id", "best_value", "best_step", "last_value"),
    "failure_summary": ("error_type", "count"),
}


def result_view(name: str, result: Any, out: Console | None = None) -> Group | Table | str:
    """A table for a tool result: records become rows, scalars a key/value list; run ids are never folded."""
    if not isinstance(result, dict):
        return _short(result, 400)
    dedicated = render_uncertainty.table_of(name, result)
    if dedicated is not None:
        return dedicated
    if name == "leaderboard" and isinstance(result.get("metric"), str):
        name = f"leaderboard by {result['metric']}"
    rows = next((v for v in result.values() if isinstance(v, list) and v and isinstance(v[0], dict)), None)
    if rows is None:
        return _fields_table(name, result)
    first = _flatten(rows[0])
    preferred = [c for c in PREFERRED_COLUMNS.get(name.split(" ")[0], ()) if c in first]
    columns = preferred or [k for k in first if not isinstance(first[k], list | dict)][:8]

    def build(id_chars: int | None) -> Table:
        table = Table(title=f"{name} result", header_style="bold", show_lines=False)
        for column in columns:
            is_id = is_run_id_column(column)
            table.add_column(
                column.rsplit(".", 1)[-1], overflow="fold", no_wrap=is_id, min_width=id_chars if is_id else None
            )
        for row in rows[:20]:
            flat = _flatten(row)
            table.add_row(
                *(
                    run_id_cell(flat.get(c), id_chars) if is_run_id_column(c) else _table_cell(flat.get(c))
                    for c in columns
                )
            )
        return table

    return fit_run_ids(build, out)


def _fields_table(name: str, result: dict[str, Any]) -> Table:
    table = Table(title=f"{name} result", header_style="bold", show_lines=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in _flatten(result).items():
        table.add_row(key, _table_cell(value))
    return table


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and len(value) <= 12 and all(not isinstance(v, dict | list) for v in value.values()):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _table_cell(value: Any) -> str:
    return cell(value if isinstance(value, str | float | int) or value is None else _short(value, 80), limit=80)


def approval_panel(thread_id: str, questions: list[dict[str, Any]]) -> Panel:
    lines = [f"{call_line(q['tool'], q['arguments'])}\n  [yellow]{q['reason']}[/]" for q in questions]
    hint = (
        f"\n\nApprove: [bold]yes[/] (/approve) in chat, or `minivess approve {thread_id}`; "
        f"reject: [bold]no[/] (/reject), or `minivess reject {thread_id}`."
    )
    return Panel("\n".join(lines) + hint, title="[bold yellow]approval needed", border_style="yellow", expand=False)


class TurnPrinter:
    """Prints graph stream events as they arrive (hand-offs, calls, results, training progress)."""

    def __init__(self, out: Console = console) -> None:
        self.out = out

    def __call__(self, mode: str, payload: Any) -> None:
        if mode == "custom":
            self._progress(payload)
            return
        for node, update in (payload or {}).items():
            if node == "__interrupt__" or not isinstance(update, dict):
                continue
            for message in update.get("messages", []):
                self._message(node, message)

    def _message(self, node: str, message: dict[str, Any]) -> None:
        if message["role"] == "assistant":
            for call in message.get("tool_calls") or []:
                name, raw = call["function"]["name"], call["function"].get("arguments") or "{}"
                args = json.loads(raw) if raw.strip().startswith("{") else {"_raw": raw}
                if name.startswith("transfer_to_"):
                    self.out.print(f"[dim]supervisor → {name.removeprefix('transfer_to_')}: {args.get('task', '')}[/]")
                else:
                    self.out.print(call_line(name, args))
            if message.get("content") and node != "supervisor":
                self.out.print(f"[dim]{node}: {message['content']}[/]")
        elif message["role"] == "tool" and not message.get("name", "").startswith("transfer_to_"):
            content = message.get("content") or ""
            if content.startswith(("ERROR:", "REJECTED:")):
                self.out.print(f"[red]{message.get('name')}: {content}[/]")
            else:
                try:
                    self.out.print(result_view(message.get("name", "tool"), json.loads(content), self.out))
                except json.JSONDecodeError:
                    self.out.print(content)

    def _progress(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "run_started":
            self.out.print(f"  training run [cyan]{event['run_id']}[/] ({event['epochs']} epochs)")
        elif kind == "epoch_finished":
            metrics = "  ".join(f"{k} {v:.4g}" for k, v in event["metrics"].items() if k != "lr")
            self.out.print(f"  epoch {event['epoch']}: {metrics}")
