"""The analytics suite: questions about past runs, answered by the agent with its real analytics tools over a
fixed fixture warehouse, scored against answers computed by SQL we wrote (result sets, order-insensitive).

The fixture MLflow store (`minivess.evals.fixtures`) is built once per run into a temp home and mirrored into
DuckDB; every case then runs one chat turn through the real graph with the real tools (all analytics tools are
read-only), and the table of the last successful tool result is compared with the expected rows.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from autoevals import NumericDiff  # type: ignore[import-untyped]
from braintrust import EvalCase, EvalHooks
from pydantic import BaseModel, ConfigDict, Field

from minivess.evals import scorers
from minivess.evals.fixtures import FIXTURE_VERSION, build_store
from minivess.evals.harness import Conversation, case_settings, record_trace
from minivess.evals.resultsets import matching_columns, normalise, rows_from_result
from minivess.evals.suite import Suite, dataset_version
from minivess.settings import Settings

logger = logging.getLogger(__name__)

DATASET: Final = Path(__file__).with_name("datasets") / "analytics.jsonl"
MAX_LLM_CALLS: Final = 5  # hand-off, describe_warehouse, the query, hand back, answer


class AnalyticsCase(BaseModel):
    """One line of datasets/analytics.jsonl: a question and the SQL that computes its answer."""

    model_config = ConfigDict(extra="forbid")

    id: str
    question: str
    sql: str = Field(description="a SELECT over the warehouse whose rows are the right answer")


def load_cases(path: Path = DATASET) -> list[AnalyticsCase]:
    """The analytics dataset (ids unique)."""
    cases = [AnalyticsCase.model_validate(json.loads(line)) for line in path.read_text("utf-8").splitlines() if line]
    ids = [case.id for case in cases]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: case ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return cases


class FixtureWarehouse:
    """The fixture store and its warehouse in a temp home, built on first use."""

    def __init__(self, base: Settings, workdir: tempfile.TemporaryDirectory[str]) -> None:
        self.workdir = workdir  # held here (and so by the task): the files live as long as the task may run
        self.settings = case_settings(base, Path(workdir.name) / "home")
        self._built = False

    def ensure(self) -> Settings:
        if not self._built:
            build_store(self.settings.home_dir / "mlflow.db")
            from minivess.pipelines.analytics import Warehouse

            Warehouse(self.settings).sync()
            self._built = True
        return self.settings

    def answer(self, sql: str) -> list[list[Any]]:
        """The rows of our expected-answer SQL, normalised (JSON-safe) for Braintrust and the comparison."""
        from minivess.pipelines.analytics import Warehouse

        with Warehouse(self.ensure()).reader() as con:
            rows = con.execute(sql).fetchall()
        return [[normalise(value) for value in row] for row in rows]


def eval_cases(cases: list[AnalyticsCase], fixture: FixtureWarehouse) -> list[EvalCase[Any, Any]]:
    """Braintrust cases; expected rows are computed now, on this build of the fixture."""
    return [
        EvalCase(
            input={"question": case.question},
            expected={"sql": case.sql, "rows": fixture.answer(case.sql), "max_llm_calls": MAX_LLM_CALLS},
            metadata={"case_id": case.id},
        )
        for case in cases
    ]


def answer_table(calls: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(tool, rows) of the last call that ran without error; (None, []) when none did."""
    for call in reversed(calls):
        if call.get("ran") and call.get("ok"):
            return call["tool"], rows_from_result(call["tool"], call.get("result"))
    return None, []


def make_task(fixture: FixtureWarehouse) -> Callable[[dict[str, Any], EvalHooks[Any]], dict[str, Any]]:
    def task(input: dict[str, Any], hooks: EvalHooks[Any]) -> dict[str, Any]:
        chat = Conversation(fixture.ensure(), keep_results=True)
        output: dict[str, Any] = chat.send(input["question"], auto_approve=True)
        tool, rows = answer_table(output["calls"])
        for call in output["calls"]:
            call.pop("result", None)  # the table below is what is scored; keep the logged output small
        output.update(answer_tool=tool, answer_rows=rows[:50], answer_row_count=len(rows))
        record_trace(hooks, output, fixture.settings.home_dir)
        return output

    return task


def answer_match(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> scorers.ScoreDict:
    """1 when the agent's answer table holds exactly the expected rows (any order, extra columns allowed)."""
    rows = output.get("answer_rows", [])
    complete = len(rows) == output.get("answer_row_count", len(rows))
    columns = matching_columns(expected["rows"], rows) if complete else None
    return {
        "name": "answer_match",
        "score": 1.0 if columns is not None else 0.0,
        "metadata": {"matched_columns": columns, "tool": output.get("answer_tool")},
    }


def row_count(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> scorers.ScoreDict:
    """How close the number of rows is (NumericDiff; 0 rows when no tool answered)."""
    got, want = int(output.get("answer_row_count", 0)), len(expected["rows"])
    score = NumericDiff().eval(output=got, expected=want).score
    return {"name": "row_count", "score": float(score), "metadata": {"got": got, "want": want}}


def tool_ok(output: dict[str, Any], **_: Any) -> scorers.ScoreDict:
    """1 when some analytics tool answered without error (SQL accepted by the guard, runs resolved …)."""
    return {"name": "tool_ok", "score": 1.0 if output.get("answer_tool") else 0.0}


SCORERS: Final[tuple[Callable[..., scorers.ScoreDict], ...]] = (answer_match, row_count, tool_ok, scorers.steps)


def build_suite(settings: Settings, *, dataset: Path = DATASET, limit: int | None = None) -> Suite:
    """The analytics suite over ``dataset`` (first ``limit`` cases when given)."""
    cases = load_cases(dataset)[:limit]
    workdir = tempfile.TemporaryDirectory(prefix="minivess-evals-analytics-")
    fixture = FixtureWarehouse(settings, workdir)
    return Suite(
        name="analytics",
        description="answers about past runs over a fixture warehouse, compared with SQL result sets",
        data=lambda: eval_cases(cases, fixture),
        task=make_task(fixture),
        scorers=SCORERS,
        dataset_version=dataset_version(dataset, extra=f"fixture={FIXTURE_VERSION};limit={limit}"),
        max_concurrency=1,  # the cases share one DuckDB file
        resources=[workdir],
    )
