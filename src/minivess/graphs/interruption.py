"""What a Ctrl-C leaves in a thread: an answer for every interrupted call and a note the next turn can read."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import InvalidUpdateError

logger = logging.getLogger(__name__)


def _answer(call: dict[str, Any], run_id: str | None) -> str:
    """The tool message for a call Ctrl-C stopped: a killed training run keeps its id, so "how did it do?" works."""
    name = call["function"]["name"]
    if name == "train_model" and run_id:
        try:
            model = json.loads(call["function"].get("arguments") or "{}").get("model")
        except (json.JSONDecodeError, AttributeError):
            model = None
        return json.dumps({"run_id": run_id, "model": model, "status": "KILLED", "stop_reason": "interrupted"})
    return "ERROR: interrupted by the user (Ctrl-C) before it finished."


def _summary(calls: list[dict[str, Any]], started: list[str]) -> str:
    if started:
        run = started[-1]
        return (
            f"Stopped by Ctrl-C: training run {run} was marked KILLED. Continue it with "
            f"`minivess train --resume {run}`, or ask me about it."
        )
    names = ", ".join(c["function"]["name"] for c in calls)
    return f"Stopped by Ctrl-C while running {names}; nothing was finished." if names else "Stopped by Ctrl-C."


def record_interruption(graph: Any, config: RunnableConfig, started: list[str]) -> str:
    """Answer the calls that were running, end the request with a note, and return that note.

    Args:
        graph: The compiled chat graph (with its checkpointer).
        config: The thread's config.
        started: MLflow run ids the interrupted tools started (from their progress events).

    Returns:
        One line saying what was stopped.
    """
    state = graph.get_state(config).values
    answered = {m.get("tool_call_id") for m in state.get("messages", []) if m.get("role") == "tool"}
    calls = [c for c in state.get("pending_calls", []) if c["id"] not in answered]
    note = _summary(calls, started)
    run_id = started[-1] if started else None
    messages = [
        {"role": "tool", "tool_call_id": c["id"], "name": c["function"]["name"], "content": _answer(c, run_id)}
        for c in calls
    ]
    messages.append({"role": "assistant", "content": note})
    try:
        graph.update_state(
            config, {"messages": messages, "pending_calls": [], "stop_reason": "interrupted"}, as_node="tools"
        )
    except (InvalidUpdateError, sqlite3.Error, ValueError):  # the note is still printed and traced
        logger.warning("could not record the interruption in thread %s", config["configurable"]["thread_id"])
    return note
