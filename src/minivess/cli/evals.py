"""`minivess evals run | gate | report | comment`: Braintrust suites, the score history, the gate, the PR comment.

Exit codes: 0 fine, 1 the gate failed (a mean below its floor, a case errored, nothing recorded), 2 an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from minivess.cli import render
from minivess.cli.context import get_settings
from minivess.errors import ConfigError

if TYPE_CHECKING:
    from minivess.evals.gate import GateResult
    from minivess.settings import Settings

GATE_FAILED_EXIT = 1

app = typer.Typer(
    help="Agent evals (Braintrust): run the suites, keep a local score history, write the dashboard, gate on floors.",
    no_args_is_help=True,
)

SUITES_HELP = (
    "Suites: planner, planner_holdout, planner_holdout2, planner_holdout3, planner_holdout4, analytics, e2e "
    "(default: all)."
)
FLOORS_HELP = "Floors file (default: the versioned src/minivess/evals/floors.yaml)."


def _suite_names(names: list[str] | None) -> list[str]:
    from minivess.evals import SUITE_NAMES

    unknown = [n for n in names or [] if n not in SUITE_NAMES]
    if unknown:
        raise ConfigError(f"unknown eval suite(s) {', '.join(unknown)}; choose from {', '.join(SUITE_NAMES)}.")
    return list(dict.fromkeys(names or SUITE_NAMES))


@app.command()
def run(
    suites: list[str] | None = typer.Argument(None, help=SUITES_HELP, show_default=False),
    gate: bool = typer.Option(False, "--gate", help="Then check the floors: exit 1 when a mean falls below one."),
    floors: Path | None = typer.Option(None, "--floors", help=FLOORS_HELP),
    offline: bool = typer.Option(
        False, "--offline", help="Keep results local (no_send_logs) even when BRAINTRUST_API_KEY is set."
    ),
) -> None:
    """Run suites with `braintrust.Eval`: prints Braintrust's summary, stores scores in HOME/evals/history.jsonl.

    Without BRAINTRUST_API_KEY the experiments stay local; with it they go to Braintrust (commit, model and
    dataset version as metadata). The model is whatever MINIVESS_LLM_MODEL names (default: embedded planner).
    """
    from minivess.evals import build_suite
    from minivess.evals.gate import check_gate, load_floors
    from minivess.evals.history import summarize_runs
    from minivess.evals.suite import run_suite
    from minivess.observability.job_metrics import JobMetrics

    settings = get_settings()
    names = _suite_names(suites)
    floor_values = load_floors(floors)  # read first: a broken floors file should not cost a whole run
    latest = {}
    for name in names:
        # HOME/metrics/evals-<suite>.prom (+ the Pushgateway when configured): cases, errors, mean scores
        with JobMetrics("evals", settings, name) as metrics:
            result = run_suite(build_suite(name, settings), settings, send=False if offline else None)
            summaries = {suite: runs[-1] for suite, runs in summarize_runs(result.records).items()}
            metrics.inc("minivess_evals_cases_total", len(result.records))
            metrics.inc("minivess_evals_case_errors_total", sum(1 for r in result.records if r.error))
            for scorer, mean in (summaries[name].means if name in summaries else {}).items():
                metrics.set("minivess_evals_score", mean, scorer=scorer)
        where = "sent to Braintrust" if result.sent else "kept local (no BRAINTRUST_API_KEY or --offline)"
        render.note(f"{name}: run {result.info.run_id}, {len(result.records)} cases, {where}")
        latest.update(summaries)
    outcome = check_gate(latest, floor_values, names)
    _print_checks(outcome, title="scores vs floors")
    if gate:
        _audit_gate(settings, outcome)
    render.note(f"history: {settings.home_dir / 'evals' / 'history.jsonl'}; dashboard: `minivess evals report`")
    if gate and not outcome.ok:
        raise typer.Exit(GATE_FAILED_EXIT)


@app.command("gate")
def gate_command(
    suites: list[str] | None = typer.Argument(None, help="Suites to gate (default: every suite with a run)."),
    floors: Path | None = typer.Option(None, "--floors", help=FLOORS_HELP),
) -> None:
    """Check each suite's latest recorded run against its floors; exit 1 when one fails."""
    from minivess.evals.gate import check_gate, load_floors
    from minivess.evals.history import history_path, read_records, summarize_runs

    settings = get_settings()
    names = _suite_names(suites) if suites else []
    floor_values = load_floors(floors)
    runs = summarize_runs(read_records(history_path(settings)))
    outcome = check_gate({suite: items[-1] for suite, items in runs.items()}, floor_values, names)
    _print_checks(outcome, title="gate: latest runs vs floors")
    _audit_gate(settings, outcome)
    if not outcome.ok:
        raise typer.Exit(GATE_FAILED_EXIT)


@app.command()
def report(
    output: Path | None = typer.Option(None, "--output", "-o", help="HTML file (default: HOME/evals/report.html)."),
    floors: Path | None = typer.Option(None, "--floors", help=FLOORS_HELP),
) -> None:
    """Write the offline dashboard: scores over time per suite and scorer, and the cases that regressed."""
    from minivess.evals.gate import load_floors
    from minivess.evals.history import evals_dir, history_path, read_records
    from minivess.evals.report import write_report

    settings = get_settings()
    source = history_path(settings)
    records = read_records(source)
    if not records:
        render.note(f"no eval runs in {source} yet: run `minivess evals run planner` first")
    out = write_report(records, load_floors(floors), output or evals_dir(settings) / "report.html", source=source)
    render.console.print(f"wrote {out}")


@app.command()
def comment(
    bench: list[Path] | None = typer.Option(
        None, "--bench", help="A file with a benchmark's JSON line(s) (`python benchmarks/X.py > F`); repeatable."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the Markdown here (default: stdout)."),
    floors: Path | None = typer.Option(None, "--floors", help=FLOORS_HELP),
) -> None:
    """Write the pull-request comment CI posts with CML: scores vs floors, regressions, benchmark results.

    Reads the local history only; `cml comment create FILE` (GitHub Actions) posts it.
    """
    from minivess.evals.comment import comment_markdown, read_benchmark_lines
    from minivess.evals.gate import load_floors
    from minivess.evals.history import history_path, read_records, summarize_runs

    settings = get_settings()
    body = comment_markdown(
        summarize_runs(read_records(history_path(settings))), load_floors(floors), read_benchmark_lines(bench or [])
    )
    if output is None:
        typer.echo(body)
        return
    from minivess.fileio import write_text_atomic

    write_text_atomic(output, body)
    render.console.print(f"wrote {output}")


def _audit_gate(settings: Settings, outcome: GateResult) -> None:
    """The eval gate's verdict goes to the audit trail (kind gate_result), with every floor it checked."""
    from minivess.pipelines.governance import audit

    audit.append(
        settings,
        "gate_result",
        f"eval gate {'passed' if outcome.ok else 'failed'}: {', '.join(sorted(outcome.runs)) or 'no suite'}",
        reason="; ".join(outcome.problems) or None,
        details={
            "checks": [
                {"suite": c.suite, "scorer": c.scorer, "mean": c.mean, "floor": c.floor} for c in outcome.checks
            ],
            "runs": {suite: run.run_id for suite, run in outcome.runs.items()},
        },
    )


def _print_checks(outcome: GateResult, *, title: str) -> None:
    rows = [
        (c.suite, c.scorer, c.mean, c.floor, "ok" if c.ok else "BELOW FLOOR" if c.mean is not None else "NOT MEASURED")
        for c in outcome.checks
    ]
    if rows:
        render.console.print(render.records_table(title, ["suite", "scorer", "mean", "floor", "gate"], rows))
    for problem in outcome.problems:
        render.err_console.print(f"[red]{problem}")
    verdict = "[green]gate passed" if outcome.ok else f"[red]gate failed ({len(outcome.failures)} below floor)"
    render.console.print(verdict)
