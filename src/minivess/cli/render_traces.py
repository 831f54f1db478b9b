"""Rich rendering of stored traces: the list table and the observation tree with timings, tokens and cost."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from minivess.observability.models import ObservationNode, ScoreRecord, TraceDetail, TraceSummary, parse_json

TYPE_STYLE = {
    "generation": "magenta",
    "tool": "cyan",
    "agent": "green",
    "event": "yellow",
    "chain": "blue",
    "span": "blue",
}
LEVEL_STYLE = {"ERROR": "bold red", "WARNING": "yellow", "DEBUG": "dim"}


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: float) -> str:
    if ms < 10:
        return f"{ms:.1f} ms"
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _short(value: Any, limit: int) -> str:
    data = parse_json(value) if isinstance(value, str) else value
    text = data if isinstance(data, str) else json.dumps(data, default=str, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def traces_table(summaries: Sequence[TraceSummary]) -> Table:
    """`minivess traces list`: newest first, with tokens, cost and errors per trace."""
    table = Table(title=f"traces ({len(summaries)})", header_style="bold")
    for column in ("trace id", "started", "name", "session", "duration", "obs", "tokens in/out", "cost $", "errors"):
        table.add_column(column, overflow="fold", justify="right" if column in ("obs", "cost $", "errors") else "left")
    for s in summaries:
        table.add_row(
            s.trace_id,
            _when(s.start_ns),
            escape(s.name),
            escape(s.session_id or ""),
            _duration(s.duration_ms),
            str(s.observations),
            f"{s.input_tokens}/{s.output_tokens}" if s.input_tokens or s.output_tokens else "",
            f"{s.cost_usd:.4f}" if s.cost_usd else "",
            f"[red]{s.errors}[/]" if s.errors else "",
        )
    return table


def _label(node: ObservationNode, start_ns: int) -> str:
    r = node.record
    style = TYPE_STYLE.get(r.type, "white")
    parts = [
        f"[{style}]{r.type}[/]",
        f"[bold]{escape(r.name)}[/]",
        f"[dim]+{(r.start_ns - start_ns) / 1e6:.0f} ms[/]",
        _duration(r.duration_ms) if r.type != "event" else "",
    ]
    if r.model:
        parts.append(f"model={escape(r.model)}")
    if r.usage:
        parts.append(f"tokens {r.input_tokens or 0}→{r.output_tokens or 0}")
    if r.cost_usd:
        parts.append(f"${r.cost_usd:.4f}")
    if r.level != "DEFAULT":
        parts.append(f"[{LEVEL_STYLE.get(r.level, 'white')}]{r.level}[/]")
    return " ".join(p for p in parts if p)


def _add(tree: Tree, node: ObservationNode, start_ns: int, limit: int) -> None:
    branch = tree.add(_label(node, start_ns))
    r = node.record
    details = [("in", r.input), ("out", r.output), ("status", r.status_message)]
    if r.metadata:
        details.append(("meta", json.dumps(r.metadata, default=str, ensure_ascii=False)))
    for key, value in details:
        if value is not None:
            branch.add(f"[dim]{key}:[/] {escape(_short(value, limit))}")
    for child in node.children:
        _add(branch, child, start_ns, limit)


def trace_tree(detail: TraceDetail, *, full: bool = False) -> Tree:
    """`minivess traces show`: the observation tree with offsets, durations, types, models, tokens, cost.

    Args:
        detail: The trace from the store.
        full: Show inputs and outputs whole instead of abbreviated to one line.

    Returns:
        The tree (its root line is the trace summary; scores come last).
    """
    s = detail.summary
    cost = f"  ${s.cost_usd:.4f}" if s.cost_usd else ""
    tokens = f"  tokens {s.input_tokens}→{s.output_tokens}" if s.input_tokens or s.output_tokens else ""
    session = f"  session {s.session_id}" if s.session_id else ""
    tree = Tree(
        f"[bold]trace {s.trace_id}[/]  {escape(s.name)}  {_when(s.start_ns)}  {_duration(s.duration_ms)}"
        f"{session}{tokens}{cost}"
    )
    limit = 100_000 if full else 120
    for root in detail.roots:
        _add(tree, root, s.start_ns, limit)
    if detail.scores:
        scores = tree.add("[bold]scores[/]")
        for score in detail.scores:
            scores.add(score_line(score))
    return tree


def score_line(score: ScoreRecord) -> str:
    """One score: name = value (source, Langfuse delivery) and its comment."""
    value = f"{score.value:g}" if isinstance(score.value, float) else escape(score.value)
    comment = f" — {escape(score.comment)}" if score.comment else ""
    return f"[bold]{escape(score.name)}[/] = {value} [dim]({score.source}, langfuse: {score.langfuse})[/]{comment}"
