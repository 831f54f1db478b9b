"""CLI latency: wall time of fresh `minivess` processes, plus where their import time goes.

Three commands, each run as a new process (subprocess) in one temporary MINIVESS_HOME prepared once:

    minivess --help
    minivess ask "show the leaderboard" --dry-run --json
    minivess runs leaderboard

One untimed warm-up run of each command first (creates the home's databases, byte-compiles, warms the OS file
cache), then `--repeats` timed rounds; each round runs every command once and the order rotates from round to
round, so machine load drifts over all commands alike. Reported per command: median, min and max seconds, and
`goal_met` (median ≤ goal and every run exited 0). These are warm-cache numbers (fresh process, warm disk cache):
what a user sees from the second call on. `python_startup_s` (a bare `python -c pass`) is the floor.

Bytecode: an installed minivess has its `.pyc` files (pip byte-compiles on install; an editable install writes
them on first use). A shell with `PYTHONDONTWRITEBYTECODE=1` (this sandbox sets it) would instead re-compile our
~110 source modules on every call, ~0.1 s no user pays. So the runs get a bytecode cache of their own under the
temporary home (`PYTHONPYCACHEPREFIX`, filled by the warm-up; nothing is written into the source tree), and
`--no-bytecode-cache` measures the re-compiling condition instead.

Library floor: each round also times a fresh `python -c "import …"` of the third-party modules the ask path
cannot do without (`FLOOR_MODULES`: the LangGraph graph and its in-memory saver, the Langfuse SDK, pydantic-settings,
typer, rich; then `gc.freeze()`, as minivess's exit does), in the same rotation. `ask_over_floor_s` (ask median
− floor median) is minivess's own share; a floor above a goal means no change of ours can meet that goal on this
machine that day.

Import breakdown: `python -X importtime -c "import minivess.cli.app"` (what `--help` pays) and the `ask`
command itself under `-X importtime` (everything the ask path imports, lazily loaded modules included): total,
top 10 modules by cumulative time and top 10 top-level packages by summed self time.

Goals: --help ≤ 0.4 s, ask dry-run ≤ 1.5 s, leaderboard ≤ 1.5 s. Prints one JSON line (other output to stderr).

    .venv/bin/python benchmarks/cli_latency.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent  # .venv/bin when run as `.venv/bin/python benchmarks/cli_latency.py`
ASK = ["ask", "show the leaderboard", "--dry-run", "--json"]
COMMANDS: dict[str, tuple[list[str], float]] = {
    "help": (["--help"], 0.4),
    "ask_dry_run": (ASK, 1.5),
    "runs_leaderboard": (["runs", "leaderboard"], 1.5),
}
FLOOR_MODULES = (
    "langgraph.graph",
    "langgraph.checkpoint.memory",
    "langfuse",
    "pydantic_settings",
    "typer",
    "rich.console",
)
FLOOR = "library_floor"
IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def minivess_exe() -> str:
    exe = BIN / "minivess"
    if not exe.exists():
        sys.exit(f"{exe} not found: run this with the project's .venv/bin/python")
    return str(exe)


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, str]:
    tic = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - tic
    return seconds, proc.returncode, (proc.stderr or proc.stdout).strip()


def parse_importtime(stderr: str) -> dict[str, Any]:
    """Turn `-X importtime` output into a total, the top modules by cumulative time and packages by self time."""
    rows = []
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            self_us, cum_us, indent, name = int(match[1]), int(match[2]), len(match[3]), match[4]
            rows.append((name, self_us, cum_us, indent))
    if not rows:
        return {"error": "no importtime lines parsed"}
    top_level = min(r[3] for r in rows)
    total_us = sum(r[2] for r in rows if r[3] == top_level)
    by_cum = sorted(rows, key=lambda r: r[2], reverse=True)[:10]
    packages: dict[str, int] = defaultdict(int)
    for name, self_us, _, _ in rows:
        packages[name.split(".")[0]] += self_us
    by_pkg = sorted(packages.items(), key=lambda kv: kv[1], reverse=True)[:10]
    return {
        "total_s": round(total_us / 1e6, 3),
        "modules": len(rows),
        "top_cumulative_s": {name: round(cum / 1e6, 3) for name, _, cum, _ in by_cum},
        "top_packages_self_s": {name: round(us / 1e6, 3) for name, us in by_pkg},
    }


def import_breakdown(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    python = sys.executable
    cases = {
        "cli_app": [python, "-X", "importtime", "-c", "import minivess.cli.app"],
        "ask_path": [python, "-X", "importtime", "-m", "minivess", *ASK],
    }
    out: dict[str, Any] = {}
    for label, argv in cases.items():
        proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
        parsed = parse_importtime(proc.stderr)
        parsed["rc"] = proc.returncode
        out[label] = parsed
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per command (≥ 5)")
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="keep PYTHONDONTWRITEBYTECODE: re-compile on every call"
    )
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")
    exe = minivess_exe()
    home = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    env = {**os.environ, "MINIVESS_HOME": str(home)}
    for var in [v for v in env if v.startswith(("LANGFUSE_", "MINIVESS_LANGFUSE_"))]:
        env.pop(var)  # no network exporter: local traces only, as on a fresh machine
    cwd = home  # no project .env is read from here
    if not args.no_bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")

    errors: dict[str, str] = {}
    for name, (argv, _) in COMMANDS.items():  # warm-up: databases, .pyc, file cache
        seconds, rc, tail = run_once([exe, *argv], env, cwd)
        log(f"warm-up {name}: {seconds:.2f}s rc={rc}")
        if rc != 0:
            errors[name] = tail[-400:]

    argvs = {name: [exe, *argv] for name, (argv, _) in COMMANDS.items()}
    # gc.freeze() as minivess's own exit does: the floor is the imports, not the interpreter's final collections
    argvs[FLOOR] = [sys.executable, "-c", f"import {', '.join(FLOOR_MODULES)}; import gc; gc.freeze()"]
    run_once(argvs[FLOOR], env, cwd)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in argvs}
    codes: dict[str, list[int]] = {name: [] for name in argvs}
    names = list(argvs)
    for round_index in range(args.repeats):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, rc, tail = run_once(argvs[name], env, cwd)
            times[name].append(seconds)
            codes[name].append(rc)
            if rc != 0:
                errors.setdefault(name, tail[-400:])
        log(f"round {round_index + 1}/{args.repeats}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names))

    commands: dict[str, Any] = {}
    for name, (argv, goal) in COMMANDS.items():
        values = times[name]
        median = statistics.median(values)
        ok = all(rc == 0 for rc in codes[name])
        commands[name] = {
            "argv": ["minivess", *argv],
            "median_s": round(median, 3),
            "min_s": round(min(values), 3),
            "max_s": round(max(values), 3),
            "runs": len(values),
            "all_rc_0": ok,
            "goal_s": goal,
            "goal_met": ok and median <= goal,
        }
    floor = statistics.median(times[FLOOR])
    ask = commands["ask_dry_run"]
    library_floor = {
        "modules": list(FLOOR_MODULES),
        "median_s": round(floor, 3),
        "min_s": round(min(times[FLOOR]), 3),
        "max_s": round(max(times[FLOOR]), 3),
        "all_rc_0": all(rc == 0 for rc in codes[FLOOR]),
        "ask_over_floor_s": round(ask["median_s"] - floor, 3),
        "ask_goal_below_floor": floor > ask["goal_s"],
    }
    baseline = statistics.median(run_once([sys.executable, "-c", "pass"], env, cwd)[0] for _ in range(5))
    imports = import_breakdown(env, cwd)
    result = {
        "benchmark": "cli_latency",
        "repeats": args.repeats,
        "cache": "warm (fresh process, OS file cache warm, home prepared by one warm-up run)",
        "bytecode": "re-compiled every call" if args.no_bytecode_cache else "cached (PYTHONPYCACHEPREFIX in the home)",
        "python_startup_s": round(baseline, 3),
        "commands": commands,
        "library_floor": library_floor,
        "goal_met": {name: c["goal_met"] for name, c in commands.items()},
        "imports": imports,
        "errors": errors or None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
