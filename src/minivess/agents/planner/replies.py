"""The texts the planner ends a turn with: the final answer, a worker's hand-back, failure notes."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner.models import Plan, Step, StepOutput, ToolOutcome
from minivess.agents.planner.summary import summarize
from minivess.agents.planner.texts import describe_step

_RUN_PROBLEM: Final = re.compile(r"resolve run|no run|no finished|there are no runs|not found|does not exist", re.I)
_REJECT_HINT: Final = (
    "Nothing after it was run. Ask again with a change if you like, e.g. fewer epochs or a time budget "
    '("train segresnet for 2 epochs within 5 minutes").'
)


def _error_hint(step: Step, error: str) -> str:
    if "input" in error.lower() and step.tool == "predict_volume":
        return "Give me the path of an existing .nii.gz volume and I will try again."
    if _RUN_PROBLEM.search(error):
        return (
            "Tell me which run to use: a full run id, 'the last run' or 'the best segresnet' "
            "(train one first if there are none)."
        )
    return 'Change the request and ask again, or say "help" for examples.'


def _failure_line(step: Step, outcome: ToolOutcome) -> str:
    what = describe_step(step)
    if outcome.status == "rejected":
        reason = f" (reason: {outcome.text})" if outcome.text else ""
        return f"You declined: {what}{reason}. {_REJECT_HINT}"
    return f"I could not {what}: {outcome.text} {_error_hint(step, outcome.text)}"


def final_text(plan: Plan, done: list[ToolOutcome]) -> str:
    """The answer to the user: the plan's text, or what each finished step found, and any failure."""
    if plan.text is not None:
        return plan.text
    lines = [summarize(outcome) for outcome in done if not outcome.failed]
    if done and done[-1].failed:
        lines.append(_failure_line(plan.steps[len(done) - 1], done[-1]))
    pending = plan.steps[len(done) :]
    if pending and not (done and done[-1].failed):
        todo = "; ".join(f"{i}. {describe_step(s)}" for i, s in enumerate(pending, start=len(done) + 1))
        lines.append(f"Not done yet (no tool available here): {todo}.")
    return "\n".join(lines) or "Done."


def stalled_text(plan: Plan, done: list[ToolOutcome], step: Step, note: str | None = None) -> str:
    """The supervisor's answer when the step's worker is missing or came back without doing it.

    A worker's question (a value its tool's schema refuses) is passed on to the user as it is.
    """
    lines = [summarize(outcome) for outcome in done if not outcome.failed]
    if note and "?" in note:
        lines.append(note)
    else:
        lines.append(f"I could not get this step done: {describe_step(step)}. Please rephrase or try it on its own.")
    return "\n".join(lines)


def handback_text(mine: list[ToolOutcome], step: Step | None) -> str:
    """A worker's short note for the supervisor: what it did, and the next step if it is someone else's."""
    did = " ".join(summarize(outcome, short=True) for outcome in mine)
    if step is None:
        return did or "Nothing left for me to do."
    nxt = f"Next step for the other worker: {describe_step(step)}."
    return f"{did} {nxt}".strip()


def worker_failure_text(outcome: ToolOutcome) -> str:
    """A worker's hand-back after an ERROR or a declined approval."""
    if outcome.status == "rejected":
        return f"{outcome.name} was not approved" + (f" ({outcome.text})." if outcome.text else ".")
    return f"{outcome.name} failed: {outcome.text}"


def blocked_text(plan: Plan, done: list[ToolOutcome], step: Step, gap: tuple[str, StepOutput]) -> str:
    """The answer when a step needs a value an earlier step did not give (it is not run with a default instead)."""
    key, value = gap
    source = plan.steps[value.step].tool
    lines = [summarize(outcome) for outcome in done if not outcome.failed]
    what = describe_step(Step(step.tool, {k: v for k, v in step.args.items() if k != key}))
    if source == "import_reviews" and value.key == "dataset_dir":
        lines.append(
            f"I did not {what} on the reviewed dataset: import_reviews made no new dataset version (no finished "
            "reviews yet), and I will not fall back to the unreviewed data. Finish reviews in Label Studio "
            "('how is the review going?') and import them again."
        )
    else:
        lines.append(f"I did not {what}: step {value.step + 1} ({source}) gave no {value.key} to use as {key}.")
    return "\n".join(lines)
