"""Agent overhead: the agent's own milliseconds per tool call (planner + graph + checkpoint; tools excluded).

Runs a scripted workload of analyst requests through the real chat graph — embedded planner behind
LiteLLM, SQLite checkpointer on disk — and subtracts the time spent inside the tools, measured by
wrapping each tool. Prints one JSON line; goal: ≤ 50 ms per tool call.

    .venv/bin/python benchmarks/agent_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from typing import Any

REQUESTS = [
    "what tables can I query?",
    "show the leaderboard by clDice",
    "which runs failed?",
    "did clDice loss help?",
    "how many runs are there?",
]


def timed_registry(spent: list[float]) -> Any:
    from minivess.tools.base import ToolRegistry
    from minivess.tools.registry import ALL_TOOLS

    def wrap(tool: Any) -> Any:
        def run(args: Any, ctx: Any) -> Any:
            tic = time.perf_counter()
            try:
                return tool.func(args, ctx)
            finally:
                spent.append(time.perf_counter() - tic)

        return dataclasses.replace(tool, func=run)

    return ToolRegistry(wrap(t) for t in ALL_TOOLS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ["MINIVESS_HOME"] = tempfile.mkdtemp(prefix="bench-agent-")
    from minivess.graphs.chat import build_chat_graph
    from minivess.graphs.checkpoint import open_checkpointer
    from minivess.graphs.session import ChatSession
    from minivess.settings import get_settings

    settings = get_settings()
    spent: list[float] = []
    graph = build_chat_graph(settings, open_checkpointer(settings), tools=timed_registry(spent))
    ChatSession(settings, graph=graph).send(REQUESTS[0])  # warm-up: imports, first warehouse sync
    spent.clear()
    total, calls = 0.0, 0
    for _ in range(args.repeats):
        session = ChatSession(settings, graph=graph)
        for request in REQUESTS:
            tic = time.perf_counter()
            outcome = session.send(request)
            total += time.perf_counter() - tic
            calls += len(outcome.tools)
    tool_seconds = sum(spent)
    own_ms = (total - tool_seconds) / max(calls, 1) * 1000
    print(
        json.dumps(
            {
                "benchmark": "agent_overhead",
                "requests": args.repeats * len(REQUESTS),
                "tool_calls": calls,
                "total_s": round(total, 3),
                "tool_s": round(tool_seconds, 3),
                "agent_ms_per_tool_call": round(own_ms, 2),
                "goal_ms": 50.0,
                "ratio": round(50.0 / own_ms, 3) if own_ms > 0 else None,
            }
        )
    )


if __name__ == "__main__":
    main()
