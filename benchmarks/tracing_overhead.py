"""Tracing overhead: the same scripted agent workload with tracing on vs off, as a wall-time ratio.

Five analyst requests through the real chat graph (embedded planner behind LiteLLM, SQLite checkpointer),
repeated; traced and untraced rounds alternate so machine load hits both alike. Traced = local trace store
(+ Langfuse exporter when keys are set; none here). Prints one JSON line; goal: ratio ≤ 1.05.

    .venv/bin/python benchmarks/tracing_overhead.py [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

REQUESTS = [
    "what tables can I query?",
    "show the leaderboard by clDice",
    "which runs failed?",
    "did clDice loss help?",
    "how many runs are there?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    os.environ["MINIVESS_HOME"] = tempfile.mkdtemp(prefix="bench-tracing-")
    from minivess.graphs.chat import build_chat_graph
    from minivess.graphs.checkpoint import open_checkpointer
    from minivess.graphs.session import ChatSession
    from minivess.observability import get_tracer
    from minivess.settings import Settings

    sides = {}
    for traced in (True, False):
        settings = Settings(tracing=traced)
        graph = build_chat_graph(settings, open_checkpointer(settings))
        ChatSession(settings, graph=graph).send(REQUESTS[0])  # warm-up: imports, tracer, warehouse sync
        sides[traced] = (settings, graph)
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_index in range(args.rounds):
        for traced in (True, False) if round_index % 2 == 0 else (False, True):
            settings, graph = sides[traced]
            session = ChatSession(settings, graph=graph)
            tic = time.perf_counter()
            for request in REQUESTS:
                session.send(request)
            times[traced].append(time.perf_counter() - tic)
    tic = time.perf_counter()
    get_tracer(sides[True][0]).flush()
    flush_s = time.perf_counter() - tic
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(
        json.dumps(
            {
                "benchmark": "tracing_overhead",
                "rounds": args.rounds,
                "requests_per_round": len(REQUESTS),
                "traced_median_s": round(on, 4),
                "untraced_median_s": round(off, 4),
                "ratio": round(on / off, 4),
                "final_flush_s": round(flush_s, 4),
                "goal_ratio_max": 1.05,
            }
        )
    )


if __name__ == "__main__":
    main()
