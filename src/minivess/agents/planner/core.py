"""The planner's entry point: plan the request, find the next step, and answer as supervisor, worker or text."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from minivess.agents.planner.conversation import Conversation, as_dict
from minivess.agents.planner.fit import fit_arguments
from minivess.agents.planner.models import Plan, PlannedCall, PlannerReply, Step, ToolOutcome
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.replies import blocked_text, final_text, handback_text, stalled_text, worker_failure_text
from minivess.agents.planner.resolve import missing_output, resolve_args, run_id_of
from minivess.agents.planner.texts import HELP_TEXT, describe_step

logger = logging.getLogger(__name__)

Role = Literal["supervisor", "worker", "text"]
TRANSFER_TO: Final = "transfer_to_"
# A transfer tool's description ends with the tools its worker offers: "… Tools: train_model, evaluate_run."
_TOOLS_LIST: Final = re.compile(r"\bTools:\s*([A-Za-z0-9_,\s]+)")


@dataclass
class Offered:
    """The tools offered in this call: their parameter schemas, and the role they imply."""

    schemas: dict[str, dict[str, Any]]
    descriptions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, tools: list[dict[str, Any]] | None) -> Offered:
        """Read OpenAI `tools` entries (nested under "function" or flat); malformed ones are skipped."""
        schemas: dict[str, dict[str, Any]] = {}
        descriptions: dict[str, str] = {}
        for item in tools or []:
            entry = as_dict(item)
            if entry is None:
                continue
            nested = entry.get("function")
            function: dict[str, Any] = nested if isinstance(nested, dict) else entry
            name = function.get("name")
            parameters = function.get("parameters")
            if isinstance(name, str) and name:
                schemas[name] = parameters if isinstance(parameters, dict) else {}
                description = function.get("description")
                descriptions[name] = description if isinstance(description, str) else ""
        return cls(schemas, descriptions)

    def transfer_for(self, tool: str) -> str | None:
        """The offered transfer tool whose worker offers ``tool`` (read from its description), if any."""
        for name, description in self.descriptions.items():
            listed = _TOOLS_LIST.search(description) if name.startswith(TRANSFER_TO) else None
            if listed and tool in {t.strip() for t in listed.group(1).split(",")}:
                return name
        return None

    @property
    def role(self) -> Role:
        """Supervisor when only transfer tools are offered, worker when domain tools are, text when none."""
        if not self.schemas:
            return "text"
        return "supervisor" if all(name.startswith(TRANSFER_TO) for name in self.schemas) else "worker"


@dataclass
class Progress:
    """Which plan steps are done: tool answers after the request, matched to the steps in order by name."""

    steps: list[Step]
    done: list[ToolOutcome]

    @classmethod
    def match(cls, steps: list[Step], outcomes: list[ToolOutcome]) -> Progress:
        """Match answers to steps; a repeat of a failed step's tool replaces its answer (a retry)."""
        done: list[ToolOutcome] = []
        for outcome in outcomes:
            if done and done[-1].failed and outcome.name == steps[len(done) - 1].tool:
                done[-1] = outcome
            elif len(done) < len(steps) and not (done and done[-1].failed) and outcome.name == steps[len(done)].tool:
                done.append(outcome)
        return cls(steps, done)

    @property
    def failed(self) -> ToolOutcome | None:
        """The ERROR/REJECTED answer that stopped the plan, if any."""
        return self.done[-1] if self.done and self.done[-1].failed else None

    @property
    def next_index(self) -> int | None:
        """Index of the next step to run; None when finished or stopped."""
        if self.failed is not None or len(self.done) >= len(self.steps):
            return None
        return len(self.done)

    def done_ids(self) -> dict[int, str]:
        """Run ids produced by the finished steps, by step index."""
        ids = {index: run_id_of(outcome.data) for index, outcome in enumerate(self.done)}
        return {index: run_id for index, run_id in ids.items() if run_id}


def call_id(position: int, name: str, arguments: str) -> str:
    """A deterministic tool-call id: the same conversation and call give the same id."""
    digest = hashlib.sha256(f"{position}|{name}|{arguments}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def _call(position: int, name: str, args: dict[str, Any]) -> PlannerReply:
    arguments = json.dumps(args, sort_keys=True, ensure_ascii=False)
    return PlannerReply(content=None, tool_calls=[PlannedCall(id=call_id(position, name, arguments), name=name,
                                                              arguments=arguments)])  # fmt: skip


def _stalled(conversation: Conversation, start: int) -> bool:
    """A transfer was made after the last tool answer, and the worker came back without doing anything."""
    answered = [index for index in conversation.outcomes if index > start]
    last_progress = max(answered, default=start)
    return conversation.last_transfer_after(last_progress) is not None


def _supervise(
    plan: Plan, progress: Progress, conversation: Conversation, offered: Offered, start: int
) -> PlannerReply:
    if plan.is_text or progress.next_index is None:
        return PlannerReply(content=final_text(plan, progress.done))
    step = plan.steps[progress.next_index]
    if gap := missing_output(step, progress.done):
        return PlannerReply(content=blocked_text(plan, progress.done, step, gap))
    if _stalled(conversation, start):
        return PlannerReply(content=stalled_text(plan, progress.done, step, conversation.worker_note(start)))
    transfer = offered.transfer_for(step.tool)
    if transfer is None:
        return PlannerReply(content=stalled_text(plan, progress.done, step))
    resolved = Step(step.tool, resolve_args(step, progress.done))
    task = describe_step(resolved, progress.done_ids())
    return _call(len(conversation.messages), transfer, {"task": task})


def _work(plan: Plan, progress: Progress, conversation: Conversation, offered: Offered, start: int) -> PlannerReply:
    if plan.is_text:
        return PlannerReply(content=plan.text)
    since = max([start, *(i for i in conversation.transfers if i > start)])
    mine = conversation.outcomes_between(since)
    if progress.failed is not None:
        return PlannerReply(content=worker_failure_text(progress.failed))
    index = progress.next_index
    if index is None:
        handed_down = since > start  # under a supervisor: a short note; on its own: the final answer
        return PlannerReply(content=handback_text(mine, None) if handed_down else final_text(plan, progress.done))
    if gap := missing_output(plan.steps[index], progress.done):
        return PlannerReply(content=blocked_text(plan, progress.done, plan.steps[index], gap))
    step = Step(plan.steps[index].tool, resolve_args(plan.steps[index], progress.done))
    if step.tool not in offered.schemas:
        return PlannerReply(content=handback_text(mine, step))
    args, missing, problems = fit_arguments(step.args, offered.schemas[step.tool])
    if problems:
        return PlannerReply(content=f"I can't call {step.tool}: {'; '.join(problems)}. Which value should I use?")
    if missing:
        return PlannerReply(content=f"I could not call {step.tool}: the offered schema needs {', '.join(missing)}.")
    return _call(len(conversation.messages), step.tool, args)


def current_plan(messages: list[dict[str, Any]]) -> Plan:
    """The plan for the conversation's current request (an answered question merged in); for tests and evals.

    Args:
        messages: The OpenAI-style conversation.

    Returns:
        The plan: ordered steps (arguments may hold StepOutput placeholders) or one text outcome.
    """
    conversation = Conversation.parse(messages)
    if conversation.latest_user is None:
        return Plan(text=HELP_TEXT, text_kind="help")
    request, anchor = conversation.effective_request()
    return build_plan(request, conversation.history_before(anchor))


def plan_reply(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> PlannerReply:
    """Answer one model turn: tool calls for the next step of the plan, or text.

    Args:
        messages: The OpenAI-style conversation so far (system, user, assistant, tool messages).
        tools: The OpenAI tool schemas offered; only transfer tools → supervisor, domain tools → worker,
            none → a plain text answer.

    Returns:
        The reply: `tool_calls` with one call, or `content` text (the final answer or a worker's hand-back).
    """
    conversation = Conversation.parse(messages)
    offered = Offered.parse(tools)
    start = conversation.latest_user
    if start is None:
        return PlannerReply(content=HELP_TEXT)
    request, anchor = conversation.effective_request()
    plan = build_plan(request, conversation.history_before(anchor))
    progress = Progress.match(plan.steps, conversation.outcomes_between(start))
    role = offered.role
    logger.debug("planner role=%s steps=%d done=%d", role, len(plan.steps), len(progress.done))
    if role == "supervisor":
        return _supervise(plan, progress, conversation, offered, start)
    if role == "worker":
        return _work(plan, progress, conversation, offered, start)
    return PlannerReply(content=final_text(plan, progress.done))
