"""Tracing overhead and the agent's own time per tool call: the same scripted workload traced vs untraced.

Workload: five analyst requests per round through the real chat graph (the default model, i.e. the embedded
planner through the LLM gateway; SQLite checkpointer on disk; real tools) over the analytics fixture store
(21 MLflow runs, three families: `minivess.evals.fixtures.build_store`; an empty store if that helper is gone).
Two sides with separate homes: `Settings(tracing=True)` (local trace store; no Langfuse keys) and
`Settings(tracing=False)`.

Each *run* is a fresh process (new homes, tracer and caches, warmed by one untimed pass per side) doing
`--rounds` rounds; a round times the workload on both sides back to back, alternating which goes first
(T U | U T | T U …). After each side's round its tracer is flushed, untimed, so the traced side's background
export cannot spill into the untraced side's time; `ratio_incl_flush` adds that flush wait back (an upper
bound: export work that ran off the calling thread, serialised). A run's ratio is the median of its per-round
ratios traced ÷ untraced; the reported `ratio` is the median of the runs' ratios; spread = max − min of the
run ratios (the IQR of all per-round ratios is shown too). If that spread exceeds the effect |ratio − 1| the
verdict is "inconclusive". Goal: ratio ≤ 1.05.

Where a turn's time goes, per tool call (tool bodies timed by wrapping the registry's tools, so tools that do
real work are excluded from the agent's own time):

* `agent_ms_per_tool_call` = (turn time − time inside tool bodies) ÷ tool calls: graph, checkpointer, planner,
  LLM gateway, tracing. Goal ≤ 25 ms (traced side, the default configuration).
* of which `llm` (the graph's LLM gateway `complete()`: planner, LiteLLM if used, its generation span),
  `planner` (`plan_reply` alone), `checkpointer` (SqliteSaver put / put_writes / get_tuple / list on the
  thread that called `send`), `checkpointer_bg` (wall time of those calls on LangGraph's background threads:
  it overlaps the turn and includes lock and I/O waits) and `checkpointer_bg_cpu` (those threads' CPU time),
  `tracing` (traced − untraced own time) and `graph_rest` (own time − llm − checkpointer on the calling thread:
  LangGraph's loop, executor threads, waits for background checkpoint writes, node code).

With ``--tracer-time`` the real tracer's own calls (entering and leaving `trace` / `observe`, `update`,
`get_tracer`) are timed on whichever thread makes them (wall time, `perf_counter`): `in_tracer_ms_per_round` and
per observation type, `in_tracer_ms_per_call`. That is the part of the overhead tracing spends on the calling
threads, steadier than the ratio on a busy machine; the timers add ~1 µs per call, so ratios of such a run are not
comparable with a plain one.

With ``--control`` every traced run is followed by a control run of the same shape whose two sides are both
untraced (separate homes, same alternation): its ratio is what this machine and this benchmark show when there is
no effect at all. The verdict then also says whether the traced ratio stands outside the control runs' range.

Prints one JSON line; progress goes to stderr.

    .venv/bin/python benchmarks/tracing_overhead.py [--runs 5] [--rounds 12] [--tracer-time] [--control]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _stats import log, quartiles  # benchmarks/_stats.py (scripts run with this folder on sys.path)

REQUESTS = [
    "what tables can I query?",
    "show the leaderboard by clDice",
    "which runs failed?",
    "did clDice loss help?",
    "how many runs are there?",
]
GOAL_RATIO = 1.05
GOAL_AGENT_MS = 25.0
SAVER_METHODS = ("put", "put_writes", "get_tuple", "list")
BREAKDOWN = ("llm", "planner", "checkpointer", "checkpointer_bg", "checkpointer_bg_cpu", "graph_rest")


class Meter:
    """Seconds spent in wrapped callables, by bucket, since the last reset (checkpointer split by thread)."""

    def __init__(self) -> None:
        self.main = threading.get_ident()
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.wrapped_llm = False

    def reset(self) -> None:
        self.seconds.clear()
        self.counts.clear()

    def wrap(self, bucket: str, func: Callable[..., Any], split_threads: bool = False) -> Callable[..., Any]:
        """Time `func` into `bucket`; with split_threads, calls off the main thread go to `bucket_bg` (wall time,
        waits included: it overlaps the turn) and `bucket_bg_cpu` (that thread's CPU time)."""
        self.wrapped_llm = self.wrapped_llm or bucket == "llm"

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            tic, cpu = time.perf_counter(), time.thread_time()
            try:
                return func(*args, **kwargs)
            finally:
                if not split_threads or threading.get_ident() == self.main:
                    self.seconds[bucket] += time.perf_counter() - tic
                    self.counts[bucket] += 1
                else:
                    self.seconds[f"{bucket}_bg"] += time.perf_counter() - tic
                    self.seconds[f"{bucket}_bg_cpu"] += time.thread_time() - cpu
                    self.counts[f"{bucket}_bg"] += 1

        return timed


def build_side(home: Path, traced: bool, meter: Meter) -> tuple[Any, Any]:
    """One side's settings and graph, with its tools, checkpointer and LLM gateway instrumented."""
    from minivess.graphs.chat import build_chat_graph
    from minivess.graphs.checkpoint import open_checkpointer
    from minivess.settings import Settings
    from minivess.tools.base import ToolRegistry
    from minivess.tools.registry import REGISTRY

    settings = Settings(home=home, tracing=traced)
    tools = ToolRegistry(
        dataclasses.replace(tool, func=meter.wrap("tools", tool.func))
        for tool in (REGISTRY.get(name) for name in REGISTRY.names())
    )
    saver = open_checkpointer(settings)
    for name in SAVER_METHODS:
        if hasattr(saver, name):
            setattr(saver, name, meter.wrap("checkpointer", getattr(saver, name), split_threads=True))
    # The gateway class the graph builds by default, found where build_chat_graph looks it up.
    gateway_cls = getattr(sys.modules[build_chat_graph.__module__], "LLMGateway", None)
    if gateway_cls is None:
        log("LLM gateway not instrumented: LLMGateway not found next to build_chat_graph")
        return settings, build_chat_graph(settings, saver, tools=tools)
    gateway = gateway_cls(settings)
    gateway.complete = meter.wrap("llm", gateway.complete)
    return settings, build_chat_graph(settings, saver, llm=gateway, tools=tools)


def instrument_planner(meter: Meter) -> list[str]:
    """Time the embedded planner's plan_reply (looked up from its package at every call; best effort)."""
    try:
        import minivess.agents.planner as planner

        planner.plan_reply = meter.wrap("planner", planner.plan_reply)  # type: ignore[attr-defined]
    except (ImportError, AttributeError) as exc:
        log(f"planner not instrumented: {exc}")
        return []
    return ["minivess.agents.planner.plan_reply"]


def prepare_store(root: Path, homes: list[Path]) -> str:
    """The analytics fixture store, built once and copied into each home (same runs on both sides)."""
    try:
        from minivess.evals.fixtures import build_store
    except ImportError as exc:
        log(f"fixture store unavailable ({exc}); empty store")
        return "empty"
    store = root / "store"
    store.mkdir()
    build_store(store / "mlflow.db")
    for home in homes:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(store / "mlflow.db", home / "mlflow.db")
    return "analytics fixture (build_store)"


class TracerTimer:
    """Wall seconds spent inside the real tracer's calls, by kind (``enter agent``, ``exit tool``, ``update`` …)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def total(self) -> float:
        return sum(self.seconds.values())

    def install(self) -> None:
        """Wrap LangfuseTracer.trace / observe (enter and exit), _Observation.update and get_tracer (everywhere)."""
        import minivess.observability as observability
        from minivess.observability import api, tracer

        timer = self

        class Timed:
            def __init__(self, scope: Any, kind: str) -> None:
                self.scope, self.kind = scope, kind

            def __enter__(self) -> Any:
                tic = time.perf_counter()
                try:
                    return self.scope.__enter__()
                finally:
                    timer.add(f"enter {self.kind}", time.perf_counter() - tic)

            def __exit__(self, *exc: Any) -> Any:
                tic = time.perf_counter()
                try:
                    return self.scope.__exit__(*exc)
                finally:
                    timer.add(f"exit {self.kind}", time.perf_counter() - tic)

        observe, trace = tracer.LangfuseTracer.observe, tracer.LangfuseTracer.trace
        tracer.LangfuseTracer.observe = lambda self, name, **kw: Timed(  # type: ignore[method-assign]
            observe(self, name, **kw), kw.get("as_type", "span")
        )
        tracer.LangfuseTracer.trace = lambda self, name, **kw: Timed(  # type: ignore[method-assign,assignment]
            trace(self, name, **kw), "trace"
        )
        tracer._Observation.update = self.wrap("update", tracer._Observation.update)  # type: ignore[method-assign]
        original = api.get_tracer
        timed_get = self.wrap("get_tracer", original)
        for module in list(sys.modules.values()):  # every module that imported get_tracer by name
            name = getattr(module, "__name__", "")
            if name.startswith("minivess") and getattr(module, "get_tracer", None) is original:
                module.get_tracer = timed_get  # type: ignore[attr-defined]
        observability.get_tracer = timed_get

    def wrap(self, kind: str, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            tic = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.add(kind, time.perf_counter() - tic)

        return timed

    def add(self, kind: str, seconds: float) -> None:
        self.seconds[kind] += seconds
        self.counts[kind] += 1


def worker(rounds: int, tracer_time: bool = False, control: bool = False) -> dict[str, Any]:
    """One run: fresh homes, warm-up, `rounds` alternating rounds; returns the raw per-round measurements.
    With `control`, the "traced" side is untraced too (an A/A run)."""
    timer = TracerTimer() if tracer_time else None
    root = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    os.environ["MINIVESS_HOME"] = str(root / "default")  # anything not passed our Settings stays in here
    homes = {True: root / "traced", False: root / "untraced"}
    store = prepare_store(root, list(homes.values()))
    meter = Meter()
    from minivess.graphs.session import ChatSession
    from minivess.observability import get_tracer

    sides = {traced: build_side(home, traced and not control, meter) for traced, home in homes.items()}
    if timer is not None:
        timer.install()  # after the graph's modules are imported (each holds get_tracer by name)
    instrumented = [
        "tools",
        "checkpointer",
        *(["llm gateway"] if meter.wrapped_llm else []),
        *instrument_planner(meter),
    ]
    for settings, graph in sides.values():  # warm-up: imports, tracer, warehouse sync, SQLite pages
        session = ChatSession(settings, graph=graph)
        for request in REQUESTS:
            session.send(request)
        get_tracer(settings).flush()
    measured: dict[str, list[dict[str, float]]] = {"traced": [], "untraced": []}
    if timer is not None:
        timer.seconds.clear()
        timer.counts.clear()
    for round_index in range(rounds):
        for traced in (True, False) if round_index % 2 == 0 else (False, True):
            settings, graph = sides[traced]
            session = ChatSession(settings, graph=graph)
            meter.reset()
            calls, statuses = 0, set()
            in_tracer = timer.total() if timer is not None else 0.0
            tic = time.perf_counter()
            for request in REQUESTS:
                outcome = session.send(request)
                calls += len(outcome.tools)
                statuses.add(outcome.status)
            total = time.perf_counter() - tic
            in_tracer = (timer.total() if timer is not None else 0.0) - in_tracer
            flush_tic = time.perf_counter()  # drain the exporter so its work cannot spill into the next side
            get_tracer(settings).flush()
            row = {"total_s": total, "flush_s": time.perf_counter() - flush_tic, "tool_calls": calls, **meter.seconds}
            if timer is not None:
                row["in_tracer_s"] = in_tracer
            row["llm_calls"] = meter.counts.get("llm", 0)
            measured["traced" if traced else "untraced"].append(row)
            if statuses != {"done"}:
                log(f"round {round_index}: statuses {sorted(statuses)}")
        t, u = measured["traced"][-1]["total_s"], measured["untraced"][-1]["total_s"]
        log(f"round {round_index + 1}/{rounds}: traced {t:.3f}s untraced {u:.3f}s ratio {t / u:.3f}")
    result: dict[str, Any] = {"rounds": measured, "store": store, "instrumented": instrumented}
    if timer is not None:
        result["tracer_calls"] = {
            kind: {"ms_per_round": timer.seconds[kind] * 1000 / rounds, "calls_per_round": timer.counts[kind] / rounds}
            for kind in sorted(timer.seconds)
        }
    return result


def per_call_ms(rows: list[dict[str, float]]) -> dict[str, float]:
    """Median over rounds of each bucket's milliseconds per tool call."""

    def median_ms(key: str) -> float:
        return statistics.median(r.get(key, 0.0) / max(r["tool_calls"], 1) * 1000 for r in rows)

    own = [(r["total_s"] - r.get("tools", 0.0)) / max(r["tool_calls"], 1) * 1000 for r in rows]
    rest = [
        (r["total_s"] - r.get("tools", 0.0) - r.get("llm", 0.0) - r.get("checkpointer", 0.0))
        / max(r["tool_calls"], 1)
        * 1000
        for r in rows
    ]
    return {
        "turn": median_ms("total_s"),
        "tools": median_ms("tools"),
        "own": statistics.median(own),
        "llm": median_ms("llm"),
        "planner": median_ms("planner"),
        "checkpointer": median_ms("checkpointer"),
        "checkpointer_bg": median_ms("checkpointer_bg"),
        "checkpointer_bg_cpu": median_ms("checkpointer_bg_cpu"),
        "graph_rest": statistics.median(rest),
    }


def round_ratios(run: dict[str, Any]) -> list[float]:
    """A run's per-round ratios: the "traced" side's workload time ÷ the untraced side's."""
    pairs = zip(run["rounds"]["traced"], run["rounds"]["untraced"], strict=True)
    return [t["total_s"] / u["total_s"] for t, u in pairs]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    run_ratios, flush_ratios, all_round_ratios, traced_ms, untraced_ms = [], [], [], [], []
    for run in runs:
        traced, untraced = run["rounds"]["traced"], run["rounds"]["untraced"]
        pairs = list(zip(traced, untraced, strict=True))
        ratios = round_ratios(run)
        all_round_ratios += ratios
        run_ratios.append(statistics.median(ratios))
        flush_ratios.append(statistics.median((t["total_s"] + t["flush_s"]) / u["total_s"] for t, u in pairs))
        traced_ms.append(per_call_ms(traced))
        untraced_ms.append(per_call_ms(untraced))
    ratio = statistics.median(run_ratios)
    spread = max(run_ratios) - min(run_ratios)
    effect = abs(ratio - 1.0)
    q1, _, q3 = quartiles(all_round_ratios)

    def across(per_run: list[dict[str, float]]) -> dict[str, float]:
        return {k: round(statistics.median(r[k] for r in per_run), 2) for k in per_run[0]}

    on, off = across(traced_ms), across(untraced_ms)
    breakdown = {
        **{k: on[k] for k in BREAKDOWN},
        "tracing": round(on["own"] - off["own"], 2),
    }
    rows = runs[0]["rounds"]["traced"]
    if spread > effect:
        verdict = f"inconclusive: spread {spread:.4f} > effect {effect:.4f}"
    elif ratio <= GOAL_RATIO:
        verdict = f"goal met: tracing adds {100 * (ratio - 1):+.1f} % ≤ {100 * (GOAL_RATIO - 1):.0f} %"
    else:
        verdict = f"goal not met: tracing adds {100 * (ratio - 1):+.1f} % > {100 * (GOAL_RATIO - 1):.0f} %"
    return {
        "benchmark": "tracing_overhead",
        "runs": len(runs),
        "rounds_per_run": len(rows),
        "requests_per_round": len(REQUESTS),
        "tool_calls_per_round": rows[0]["tool_calls"],
        "llm_calls_per_round": rows[0]["llm_calls"],
        "store": runs[0]["store"],
        "traced_round_median_s": round(statistics.median(r["total_s"] for x in runs for r in x["rounds"]["traced"]), 4),
        "untraced_round_median_s": round(
            statistics.median(r["total_s"] for x in runs for r in x["rounds"]["untraced"]), 4
        ),
        "ratio_definition": "traced ÷ untraced workload time; per run the median of its per-round ratios",
        "ratio": round(ratio, 4),
        "run_ratios": [round(r, 4) for r in run_ratios],
        "spread_run_min_max": round(spread, 4),
        "round_ratio_iqr": round(q3 - q1, 4),
        "effect": round(effect, 4),
        "goal_ratio_max": GOAL_RATIO,
        "goal_ratio_met": ratio <= GOAL_RATIO,
        "verdict": verdict,
        "agent_ms_per_tool_call": on["own"],
        "agent_ms_per_tool_call_untraced": off["own"],
        "agent_ms_per_tool_call_runs": [round(r["own"], 2) for r in traced_ms],
        "goal_agent_ms_max": GOAL_AGENT_MS,
        "goal_agent_ms_met": on["own"] <= GOAL_AGENT_MS,
        "turn_ms_per_tool_call": on["turn"],
        "tool_body_ms_per_tool_call": on["tools"],
        "agent_breakdown_ms_per_tool_call": breakdown,
        "untraced_breakdown_ms_per_tool_call": {k: off[k] for k in BREAKDOWN},
        "ratio_incl_flush": round(statistics.median(flush_ratios), 4),
        "run_ratios_incl_flush": [round(r, 4) for r in flush_ratios],
        "flush_after_round_median_ms": round(
            statistics.median(r["flush_s"] for x in runs for r in x["rounds"]["traced"]) * 1000, 2
        ),
        "instrumented": runs[0]["instrumented"],
        **tracer_time_summary(runs),
    }


def tracer_time_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """With --tracer-time: wall time inside the tracer's calls per traced round, and per call by kind."""
    if "tracer_calls" not in runs[0]:
        return {}
    per_round = [r["in_tracer_s"] * 1000 for run in runs for r in run["rounds"]["traced"]]
    kinds = sorted({kind for run in runs for kind in run["tracer_calls"]})

    def across(kind: str, field: str) -> float:
        return float(statistics.median(run["tracer_calls"].get(kind, {}).get(field, 0.0) for run in runs))

    return {
        "in_tracer_ms_per_round": round(statistics.median(per_round), 2),
        "in_tracer_ms_per_round_iqr": [round(q, 2) for q in quartiles(per_round)[::2]],
        "in_tracer_ms_per_call": {
            kind: round(1000 * across(kind, "ms_per_round") / max(across(kind, "calls_per_round"), 1e-9), 1)
            for kind in kinds
        },
        "in_tracer_calls_per_round": {kind: across(kind, "calls_per_round") for kind in kinds},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes (≥ 3)")
    parser.add_argument("--rounds", type=int, default=12, help="interleaved rounds per run (≥ 10)")
    parser.add_argument(
        "--tracer-time", action="store_true", help="also time the tracer's own calls (in_tracer_ms_per_round …)"
    )
    parser.add_argument(
        "--control", action="store_true", help="after each run, an A/A run with both sides untraced (noise floor)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.rounds, args.tracer_time, args.control)))
        return
    if args.runs < 3 or args.rounds < 10:
        parser.error("use --runs ≥ 3 and --rounds ≥ 10")
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    failed = 0
    for index in range(args.runs):
        for control in (False, True) if args.control else (False,):
            log(f"run {index + 1}/{args.runs}" + (" (control: both sides untraced)" if control else ""))
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", "--rounds", str(args.rounds)]
                + (["--tracer-time"] if args.tracer_time else [])
                + (["--control"] if control else []),
                stdout=subprocess.PIPE,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                log(f"run {index + 1}{' (control)' if control else ''} failed with exit code {proc.returncode}")
                failed += 1
                continue
            runs[control].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not runs[False]:
        sys.exit("every run failed")
    result = summarise(runs[False])
    if runs[True]:
        result.update(control_summary(result, runs[True]))
    print(json.dumps({**result, "failed_runs": failed}))


def control_summary(result: dict[str, Any], control_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The A/A runs' ratios beside the traced ones, and whether the traced ratio stands outside their range."""
    ratios = [statistics.median(round_ratios(run)) for run in control_runs]
    low, high = min(ratios), max(ratios)
    outside = result["ratio"] > high or result["ratio"] < low
    return {
        "control_ratio": round(statistics.median(ratios), 4),
        "control_run_ratios": [round(r, 4) for r in ratios],
        "control_verdict": (
            f"traced ratio {result['ratio']:.4f} is outside the A/A runs' range {low:.4f}–{high:.4f}"
            if outside
            else f"traced ratio {result['ratio']:.4f} is within the A/A runs' range {low:.4f}–{high:.4f}: "
            "not told apart from no effect"
        ),
    }


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the running worker is killed with its subprocess.run; nothing is printed half-way
        sys.exit("interrupted: no result")
