"""The pull-request comment CI posts with CML: eval scores against their floors, regressions, benchmark lines.

Pure text from the local history (``HOME/evals/history.jsonl``) and the JSON lines our benchmarks print; the CML
action only posts what this writes (``minivess evals comment > comment.md; cml comment create comment.md``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minivess.errors import ConfigError
from minivess.evals.gate import Floors, check_gate
from minivess.evals.history import RunSummary, regressions

MAX_REGRESSIONS_SHOWN = 10
MAX_BENCH_FIELDS = 8  # scalar fields shown per benchmark line (the first ones it prints)


@dataclass(frozen=True)
class BenchmarkLine:
    """One benchmark's JSON line: its name and the scalar numbers and words it reported."""

    name: str
    fields: dict[str, float | int | str | bool]


def read_benchmark_lines(paths: Iterable[Path]) -> list[BenchmarkLine]:
    """Every JSON object line of the given files (other lines, e.g. progress text, are ignored).

    Raises:
        ConfigError: A file is missing or holds no benchmark line at all.
    """
    found: list[BenchmarkLine] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read benchmark output {path} ({exc.strerror}).") from exc
        lines = [_benchmark_line(line, path) for line in text.splitlines() if line.lstrip().startswith("{")]
        parsed = [line for line in lines if line is not None]
        if not parsed:
            raise ConfigError(f"{path} holds no benchmark JSON line; pass what `python benchmarks/X.py` printed.")
        found.extend(parsed)
    return found


def _benchmark_line(line: str, path: Path) -> BenchmarkLine | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    name = str(data.get("benchmark") or path.stem)
    shown: dict[str, float | int | str | bool] = {}
    for key, value in data.items():
        if key == "benchmark":
            continue
        if isinstance(value, int | float) or (isinstance(value, str | bool) and len(str(value)) <= 40):
            shown[key] = value
    return BenchmarkLine(name, dict(list(shown.items())[:MAX_BENCH_FIELDS]))


def comment_markdown(
    runs: Mapping[str, Sequence[RunSummary]],
    floors: Floors,
    benchmarks: Sequence[BenchmarkLine] = (),
    *,
    title: str = "minivess CI",
) -> str:
    """The Markdown body: a verdict line, the floor table, regressions against the previous run, benchmarks."""
    latest = {suite: items[-1] for suite, items in runs.items() if items}
    outcome = check_gate(latest, floors)
    lines = [f"## {title}", ""]
    if not latest:
        lines += ["No eval runs recorded: run `minivess evals run --gate` first.", ""]
    else:
        verdict = "passed" if outcome.ok else f"**failed** ({len(outcome.failures)} below floor)"
        lines += [f"Eval gate {verdict}.", "", "| suite | scorer | mean | floor | |", "|---|---|---|---|---|"]
        for check in outcome.checks:
            mean = "—" if check.mean is None else f"{check.mean:.3f}"
            mark = "ok" if check.ok else "below floor" if check.mean is not None else "not measured"
            lines.append(f"| {check.suite} | {check.scorer} | {mean} | {check.floor:.3f} | {mark} |")
        lines += [f"- {problem}" for problem in outcome.problems]
        lines += ["", *_regression_lines(runs), ""]
        commits = sorted({run.commit[:10] for run in latest.values() if run.commit})
        lines += [f"Commit {', '.join(commits) or 'unknown'}; model {_models(latest.values())}.", ""]
    if benchmarks:
        lines += ["### Benchmarks", "", "| benchmark | results |", "|---|---|"]
        for bench in benchmarks:
            shown = ", ".join(f"{key} {_value(value)}" for key, value in bench.fields.items())
            lines.append(f"| {_cell(bench.name)} | {_cell(shown)} |")
        lines.append("")
    return "\n".join(lines)


def _regression_lines(runs: Mapping[str, Sequence[RunSummary]]) -> list[str]:
    found = [reg for items in runs.values() if len(items) >= 2 for reg in regressions(items[-2], items[-1])]
    if not found:
        return ["No case got worse than in the previous run of its suite."]
    lines = [f"{len(found)} case score(s) got worse than in the previous run:", ""]
    for reg in found[:MAX_REGRESSIONS_SHOWN]:
        change = reg.error or f"{_value(reg.before)} → {_value(reg.after)}"
        lines.append(f"- `{reg.suite}` `{_cell(reg.case_id)}` {reg.scorer}: {_cell(change)}")
    if len(found) > MAX_REGRESSIONS_SHOWN:
        lines.append(f"- … and {len(found) - MAX_REGRESSIONS_SHOWN} more (`minivess evals report`)")
    return lines


def _models(runs: Iterable[RunSummary]) -> str:
    return ", ".join(sorted({run.model for run in runs if run.model})) or "unknown"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _cell(text: str) -> str:
    """Keep a table cell one cell: no pipes or line breaks from case ids or error messages."""
    return text.replace("|", "\\|").replace("\n", " ")[:200]
