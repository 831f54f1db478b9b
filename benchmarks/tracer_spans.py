"""The tracer's own cost per chat turn: our span path against the Langfuse SDK's, interleaved in one process.

Both sides are real `LangfuseTracer`s (separate homes, local store, no Langfuse keys) tracing the same turn: a
trace with four generations (the message history growing), a tool span and their updates — the six observations
a one-tool chat request makes. Side `sdk` starts observations with `Langfuse.start_as_current_observation` and
keeps the SDK's span processor; side `ours` is the tracer as shipped (`observability/langfuse_spans.py`, and the
processor replaced offline by `PropagatedAttributes`). Blocks of `--traces` turns alternate (A B | B A …); each
side's tracer is flushed, untimed, after its block. Reports the median µs per turn per side, their ratio (median
of the per-pair ratios), the spread of those ratios and a verdict that says when the spread exceeds the effect.

    .venv/bin/python benchmarks/tracer_spans.py [--blocks 16] [--traces 100]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from _stats import bootstrap_median_ci, log, quartiles  # benchmarks/_stats.py

RESULT = json.dumps(
    {"rows": [{"run_id": f"{i:032x}", "val_dice": 0.8 + i / 100, "family": "segresnet"} for i in range(20)]}
)


def sdk_start(self: Any, name: str, as_type: str, input: Any, metadata: Any, **extra: Any) -> Any:
    """The tracer's observation start through the SDK's wrapper classes (the code before `langfuse_spans`)."""
    return self._langfuse.start_as_current_observation(
        name=self.redactor.string(name, 200),
        as_type=cast(Any, as_type),
        input=self.redactor.payload(input),
        metadata=metadata or None,
        **extra,
    )


def build(home: Path, sdk: bool) -> Any:
    """A tracer of its own for one side (not `get_tracer`'s cache: the two must not share a client)."""
    from minivess.observability import pipeline
    from minivess.observability.api import TracingConfig
    from minivess.observability.tracer import LangfuseTracer
    from minivess.settings import Settings

    settings = Settings(home=home, tracing=True)
    replace = pipeline.offline_processor
    if sdk:
        pipeline.offline_processor = lambda provider: None  # keep Langfuse's span processor
    try:
        tracer = LangfuseTracer(TracingConfig.from_settings(settings), settings)
    finally:
        pipeline.offline_processor = replace
    if sdk:
        tracer._start = sdk_start.__get__(tracer)  # type: ignore[method-assign]
    return tracer


def turn(tracer: Any, k: int) -> None:
    """One one-tool chat request's observations (the shapes `agents/llm.py` and `agents/execution.py` make)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are the supervisor. " * 30},
        {"role": "user", "content": f"show the leaderboard {k}"},
    ]
    call = {"id": "c1", "type": "function", "function": {"name": "leaderboard", "arguments": "{}"}}
    with tracer.trace("chat", session_id="thread-1", input=messages[-1]["content"], as_type="agent",
                      metadata={"model": "minivess/planner"}) as root:  # fmt: skip
        for step, node in enumerate(("supervisor", "analyst", "analyst", "supervisor")):
            if step == 2:
                with tracer.observe("leaderboard", as_type="tool", input="{}",
                                    metadata={"worker": "analyst", "call_id": "c1"}) as tool:  # fmt: skip
                    tool.update(input={"metric": "val_dice"}, output=RESULT, metadata={"compute_minutes": 0.0})
                messages.append({"role": "tool", "tool_call_id": "c1", "content": RESULT})
            with tracer.observe(node, as_type="generation", model="minivess/planner", input=messages,
                                model_parameters={"timeout_s": 60.0, "retries": 2},
                                metadata={"step": step, "tools": ["leaderboard", "compare_runs"]}) as gen:  # fmt: skip
                reply = {"role": "assistant", "content": None, "tool_calls": [call]} if step < 2 else {
                    "role": "assistant", "content": "Here is the board."}  # fmt: skip
                gen.update(output=reply, usage={"input": 800 + 50 * step, "output": 20}, cost_usd=0.0)
            messages.append(reply)
        root.update(output={"status": "done", "answer": "Here is the board."}, metadata={"tools": ["leaderboard"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=16, help="blocks per side, alternating (default 16)")
    parser.add_argument("--traces", type=int, default=100, help="chat turns per block (default 100)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-spans-"))
    tracers = {"sdk": build(root / "sdk", sdk=True), "ours": build(root / "ours", sdk=False)}
    for tracer in tracers.values():  # warm-up: imports, caches, the store's first pages
        for k in range(50):
            turn(tracer, k)
        tracer.flush()
    per_turn: dict[str, list[float]] = {"sdk": [], "ours": []}
    for block in range(args.blocks):
        for side in ("sdk", "ours") if block % 2 == 0 else ("ours", "sdk"):
            tracer = tracers[side]
            tic = time.perf_counter()
            for k in range(args.traces):
                turn(tracer, k)
            per_turn[side].append((time.perf_counter() - tic) / args.traces * 1e6)
            tracer.flush()
        log(f"block {block + 1}/{args.blocks}: sdk {per_turn['sdk'][-1]:.0f} µs, ours {per_turn['ours'][-1]:.0f} µs")
    ratios = [o / s for o, s in zip(per_turn["ours"], per_turn["sdk"], strict=True)]
    ratio = statistics.median(ratios)
    q1, _, q3 = quartiles(ratios)
    low, high = bootstrap_median_ci(ratios)
    effect = abs(1 - ratio)
    out = {
        "benchmark": "tracer_spans",
        "blocks": args.blocks,
        "traces_per_block": args.traces,
        "observations_per_turn": 6,
        "sdk_us_per_turn": round(statistics.median(per_turn["sdk"]), 1),
        "ours_us_per_turn": round(statistics.median(per_turn["ours"]), 1),
        "ratio_ours_to_sdk": round(ratio, 3),
        "ratio_iqr": [round(q1, 3), round(q3, 3)],
        "ratio_median_95ci": [round(low, 3), round(high, 3)],
        "verdict": f"ours {100 * (1 - ratio):.0f} % less time per turn (95 % CI of the median ratio "
        f"{low:.3f}–{high:.3f})"
        if high < 1
        else f"inconclusive: the interval {low:.3f}–{high:.3f} includes 1 (effect {effect:.3f})",
    }
    for tracer in tracers.values():
        tracer.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
