"""The planner suite: does the agent pick the right tools, in order, with the right arguments — and does it ask
when a value is missing and stop for approval before training or promoting?

Each case runs one chat turn through the real graph (supervisor → worker → approval → tools) with the model
`MINIVESS_LLM_MODEL` names, in a temp home. Tools are stubs with the real schemas and approval policies: they
return a fresh run id and run nothing, so the suite scores decisions, not training. Cases marked ``approval`` run
without auto-approval and must end waiting for it; the others are auto-approved (``--yes``) so multi-step
requests play out to the end.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from braintrust import EvalCase, EvalHooks
from pydantic import BaseModel, ConfigDict, Field

from minivess.evals import scorers
from minivess.evals.harness import Conversation, case_id, case_settings, record_trace, stub_registry
from minivess.evals.suite import Suite, dataset_version
from minivess.settings import Settings

DATASET: Final = Path(__file__).with_name("datasets") / "planner.jsonl"
CATEGORIES: Final = ("single", "multi", "history", "clarify", "approval", "text")

SCORERS: Final[tuple[Callable[..., scorers.ScoreDict], ...]] = (
    scorers.tool_choice,
    scorers.arguments,
    scorers.arguments_exact,
    scorers.asked_instead_of_guessed,
    scorers.approval_respected,
    scorers.steps,
    scorers.valid_calls,
)


class ExpectedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool: str
    args: dict[str, Any] = Field(default_factory=dict, description="only these keys are checked; null = unset")


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: list[ExpectedCall] = Field(description="the tool calls in order; empty when the agent should only talk")
    text_kind: str | None = Field(None, description="clarify | help | cannot | unknown, for turns without tools")
    approval: bool = Field(False, description="the last call needs approval: the turn must stop before it runs")


class PlannerCase(BaseModel):
    """One line of datasets/planner.jsonl."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str = Field(description=" | ".join(CATEGORIES))
    request: str
    history: list[dict[str, Any]] = Field(default_factory=list, description="earlier OpenAI messages of the thread")
    expect: Expectation
    source: str = Field("new", description="where the case came from (e.g. the planner's unit-test cases)")


def load_cases(path: Path = DATASET) -> list[PlannerCase]:
    """The planner dataset, validated (ids unique, categories known).

    Raises:
        ValueError: A line is malformed, an id repeats or a category is unknown.
    """
    cases = [PlannerCase.model_validate(json.loads(line)) for line in path.read_text("utf-8").splitlines() if line]
    ids = [case.id for case in cases]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: case ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    unknown = sorted({case.category for case in cases} - set(CATEGORIES))
    if unknown:
        raise ValueError(f"{path}: unknown categories {unknown}; use {', '.join(CATEGORIES)}.")
    return cases


def eval_cases(cases: list[PlannerCase]) -> list[EvalCase[Any, Any]]:
    """Braintrust cases: input = request + history, expected = the expectation, metadata = id and category."""
    return [
        EvalCase(
            input={"request": case.request, "history": case.history},
            expected=case.expect.model_dump(),
            metadata={"case_id": case.id, "category": case.category, "source": case.source},
            tags=[case.category],
        )
        for case in cases
    ]


def make_task(
    settings: Settings, workdir: tempfile.TemporaryDirectory[str]
) -> Callable[[dict[str, Any], EvalHooks[Any]], dict[str, Any]]:
    """The task: one turn on a fresh thread, with stub tools, in a temp home shared by the run's cases (stubs
    write nothing there; each case has its own in-memory thread)."""

    def task(input: dict[str, Any], hooks: EvalHooks[Any]) -> dict[str, Any]:
        home = Path(workdir.name)  # the task holds the temp dir: it lives as long as Braintrust may call the task
        expected = hooks.expected or {}
        ran: list[str] = []
        chat = Conversation(case_settings(settings, home), stub_registry(ran, seed=case_id(hooks)))
        output: dict[str, Any] = chat.send(
            input["request"], history=input.get("history") or None, auto_approve=not expected.get("approval")
        )
        output["stubs_ran"] = ran
        record_trace(hooks, output, home)
        return output

    return task


def build_suite(
    settings: Settings,
    *,
    dataset: Path = DATASET,
    limit: int | None = None,
    name: str = "planner",
    description: str = "tool choice, arguments, asking and approval of the agent per request (stub tools)",
) -> Suite:
    """The planner suite over ``dataset`` (first ``limit`` cases when given), recorded under ``name``."""
    cases = load_cases(dataset)[:limit]
    workdir = tempfile.TemporaryDirectory(prefix=f"minivess-evals-{name}-")
    return Suite(
        name=name,
        description=description,
        data=lambda: eval_cases(cases),
        task=make_task(settings, workdir),
        scorers=SCORERS,
        dataset_version=dataset_version(dataset, extra=f"limit={limit}"),
        max_concurrency=4,
        resources=[workdir],
    )
