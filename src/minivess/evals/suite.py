"""A suite is Braintrust data + task + scorers; running one prints Braintrust's summary and records the scores."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from braintrust import Eval, EvalCase
from braintrust.framework import EvalResultWithSummary, Evaluator, ReporterDef, default_reporter

from minivess.errors import ConfigError, MinivessError
from minivess.evals.harness import case_settings
from minivess.evals.history import CaseRecord, append_records, records_from_results
from minivess.evals.tracing import import_traces, link_case_to_trace, trace_home
from minivess.settings import Settings

logger = logging.getLogger(__name__)

PROJECT_PREFIX = "minivess"


@dataclass(frozen=True)
class RunInfo:
    """What identifies one run of one suite: sent to Braintrust as experiment metadata and kept in the history."""

    suite: str
    run_id: str
    commit: str
    model: str
    dataset_version: str
    started: str  # ISO 8601, UTC

    def metadata(self) -> dict[str, str]:
        return {
            "suite": self.suite,
            "run_id": self.run_id,
            "commit": self.commit,
            "model": self.model,
            "dataset_version": self.dataset_version,
            "started": self.started,
        }


@dataclass
class Suite:
    """One eval suite.

    Attributes:
        name: ``planner``, ``analytics`` or ``e2e``.
        description: One line, shown in Braintrust.
        data: Builds the cases (called once per run, lazily: fixtures are made only when the suite runs).
        task: ``task(input, hooks) -> output``; every output dict carries ``metrics`` (latency_s, llm_calls …).
        scorers: Functions ``(input, output, expected, metadata) -> {"name", "score"} | None`` (None: not
            applicable to this case, left out of the mean).
        dataset_version: Short hash of the dataset file (and anything else that defines the cases).
        max_concurrency: Cases run at once (Braintrust's thread pool); 1 where cases share files.
        resources: Objects (temp dirs) kept alive while the suite exists; `close()` releases them.
    """

    name: str
    description: str
    data: Callable[[], list[EvalCase[Any, Any]]]
    task: Callable[..., Any]
    scorers: Sequence[Callable[..., Any]]
    dataset_version: str
    max_concurrency: int = 1
    resources: list[Any] = field(default_factory=list)

    @property
    def project(self) -> str:
        """The Braintrust project: one per suite."""
        return f"{PROJECT_PREFIX}-{self.name}"

    def run_info(self, settings: Settings) -> RunInfo:
        """Identify a new run: fresh run id, current commit, configured model, this dataset version."""
        return RunInfo(
            suite=self.name,
            run_id=uuid.uuid4().hex[:12],
            commit=git_commit(),
            model=settings.llm_model,
            dataset_version=self.dataset_version,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def eval_kwargs(self, settings: Settings, info: RunInfo) -> dict[str, Any]:
        """Keyword arguments for `braintrust.Eval` (also what the `eval_*.py` files pass)."""
        return {
            "name": self.project,
            "data": self.data,
            "task": self.task,
            "scores": list(self.scorers),
            "metadata": info.metadata(),
            "experiment_name": f"{info.model} @ {info.commit[:12]} ({info.run_id})",
            "description": self.description,
            "max_concurrency": self.max_concurrency,
            "reporter": history_reporter(settings),
        }

    def close(self) -> None:
        """Release temp dirs and other resources."""
        for resource in self.resources:
            cleanup = getattr(resource, "cleanup", None)
            if callable(cleanup):
                cleanup()
        self.resources.clear()


@dataclass
class SuiteRun:
    """The outcome of `run_suite`: the run's identity, one record per case and Braintrust's summary."""

    info: RunInfo
    records: list[CaseRecord]
    summary: Any
    sent: bool


def run_suite(suite: Suite, settings: Settings, *, send: bool | None = None) -> SuiteRun:
    """Run a suite through `braintrust.Eval`; the reporter prints Braintrust's summary and stores the history.

    Args:
        suite: The suite (closed afterwards).
        settings: Effective settings (home for the history, model, Braintrust key).
        send: True sends the experiment to Braintrust (needs ``BRAINTRUST_API_KEY``), False keeps it local
            (``no_send_logs``), None decides by whether the key is set.

    Returns:
        The run: identity, per-case records (also appended to HOME/evals/history.jsonl) and summary.

    Raises:
        ConfigError: Sending was asked for without a key, or the Braintrust login failed.
    """
    key = settings.braintrust_api_key.get_secret_value() if settings.braintrust_api_key else ""
    send = bool(key) if send is None else send
    if send and not key:
        raise ConfigError(
            "sending evals to Braintrust needs BRAINTRUST_API_KEY (or MINIVESS_BRAINTRUST_API_KEY); "
            "without it runs stay local."
        )
    info = suite.run_info(settings)
    kwargs = suite.eval_kwargs(settings, info)
    if send:
        kwargs["state"] = _login(key)
    logger.info("running eval suite %s (%s) against %s", suite.name, info.run_id, info.model)
    try:
        result: EvalResultWithSummary[Any, Any, Any] = Eval(**kwargs, no_send_logs=not send)
    finally:
        suite.close()
    records = records_from_results(info.metadata(), result.results)
    return SuiteRun(info=info, records=records, summary=result.summary, sent=send)


def _login(key: str) -> Any:
    """A Braintrust login of our own (not the global state), so the key may come from MINIVESS_* settings."""
    from braintrust.logger import login_to_state

    try:
        return login_to_state(api_key=key)
    except Exception as exc:  # the SDK raises ValueError, HTTP and network errors alike
        raise ConfigError(
            f"could not log in to Braintrust ({type(exc).__name__}: {exc}); check BRAINTRUST_API_KEY "
            "(and BRAINTRUST_APP_URL), or run with --offline."
        ) from exc


def history_reporter(settings: Settings) -> ReporterDef[Any, Any, Any, bool]:
    """A Braintrust reporter: store the scores under HOME, score linked traces, then print Braintrust's summary.

    `minivess evals run` and `braintrust eval src/minivess/evals` both use it, so both keep the history.
    """

    def report_eval(
        evaluator: Evaluator[Any, Any, Any], result: EvalResultWithSummary[Any, Any, Any], verbose: bool, jsonl: bool
    ) -> bool:
        metadata = evaluator.metadata if isinstance(evaluator.metadata, dict) else {}
        records = records_from_results(metadata, result.results)
        if records:
            path = append_records(settings, records)
            logger.info("stored %d case scores in %s", len(records), path)
        try:
            link_traces(settings, result.results, records)
        except (OSError, sqlite3.Error, MinivessError) as exc:  # traces are a convenience: never lose a run to them
            logger.warning("could not link the eval cases to their traces: %s", exc)
        ok: bool = bool(default_reporter.report_eval(evaluator, result, verbose, jsonl))
        return ok

    def report_run(results: list[bool], verbose: bool, jsonl: bool) -> bool:  # Braintrust passes these by name
        return all(results)

    return ReporterDef(name="minivess-history", report_eval=report_eval, report_run=report_run)


def link_traces(settings: Settings, results: Sequence[Any], records: Sequence[CaseRecord]) -> int:
    """Copy the cases' chat-turn traces into this home's trace store and write each case's scores to its trace.

    Returns:
        How many scores were written.
    """
    by_home: dict[Path, list[str]] = {}
    for result, record in zip(results, records, strict=True):
        home = trace_home(result.metadata)
        if record.trace_id and home is not None:
            by_home.setdefault(home, []).append(record.trace_id)
    for home, trace_ids in by_home.items():
        import_traces(settings, case_settings(settings, home), trace_ids)
    return sum(link_case_to_trace(settings, r.trace_id, r.scores, suite=r.suite, case_id=r.case_id) for r in records)


def dataset_version(*paths: Path, extra: str = "") -> str:
    """A short content hash of the files that define a suite's cases (plus any extra text, e.g. a code version)."""
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def git_commit() -> str:
    """The commit of the source tree (``-dirty`` when tracked files changed), or ``unknown`` outside git.

    Read-only: ``--no-optional-locks`` keeps ``git status`` from touching the index.
    """
    cwd = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if status.strip() else sha or "unknown"
