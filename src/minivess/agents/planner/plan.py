"""From a request to a plan: clauses → intents → steps, or one text outcome (help, question, refusal)."""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner import keyvalue, risk
from minivess.agents.planner.accounting import check_values
from minivess.agents.planner.annotation import ANNOTATION_BUILDERS
from minivess.agents.planner.bounds import bound_for
from minivess.agents.planner.builders import AGAIN, BUILDERS, train_options
from minivess.agents.planner.cards import CARD_BUILDERS
from minivess.agents.planner.clauses import Clause, is_filler, normalize, split_clauses, strip_polite
from minivess.agents.planner.drift import DRIFT_BUILDERS
from minivess.agents.planner.intents import (
    INTENT_OF_TOOL,
    TOOL_OF_INTENT,
    Intent,
    cannot_reason,
    classify,
    has_train_option,
    is_help,
)
from minivess.agents.planner.lexicon import families_in, metrics_in
from minivess.agents.planner.models import Clarify, History, Plan, Step, StepOutput
from minivess.agents.planner.refs import RunRef, run_refs
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.search import SEARCH_BUILDERS
from minivess.agents.planner.slots import model_name, nii_paths
from minivess.agents.planner.sqlmap import literal_sql
from minivess.agents.planner.texts import EXAMPLES, HELP_TEXT, cannot_text, describe_step, unknown_text
from minivess.agents.planner.uncertainty import UNCERTAINTY_BUILDERS

# Intents a clause without its own verb may continue ("train segresnet, then swinunetr").
_INHERITABLE: Final = frozenset(
    {"train", "evaluate", "compare", "curves", "predict", "get_run", "leaderboard", "calibrate", "conformal",
     "ensemble", "soup", "quality_gate"}
)  # fmt: skip
_BUILDERS: Final = {
    **BUILDERS,
    **UNCERTAINTY_BUILDERS,
    **ANNOTATION_BUILDERS,
    **SEARCH_BUILDERS,
    **CARD_BUILDERS,
    **DRIFT_BUILDERS,
}
_SPLIT_WORD: Final = re.compile(r"\b(?:val(?:idation)?|test|train(?:ing)?)\b", re.I)
_REGISTER_ONLY: Final = re.compile(r"\bregister", re.I)
_ALIAS_WORD: Final = re.compile(r"\b(?:champion|challenger)\b", re.I)
_ITS_INFO: Final = re.compile(
    r"\b(?:its|their)\s+(?:info\w*|details?|summary|stats|statistics|spacing|volumes)\b", re.I
)
_RETRY: Final = re.compile(
    r"\b(?:try|do|run)\s+(?:it\s+|that\s+|this\s+)?again\b|\bretry\b"
    r"|\bsame\s+(?:thing|setup|config\w*|settings?|training)\b",
    re.I,
)
_IDLE_TEXT: Final = f'What should I do next? For example: {", ".join(EXAMPLES[:3])} (or say "help").'


def _dataset_followup(previous: Intent | None, body: str) -> Intent | None:
    """ "generate a shifted dataset …, then show its info": "its" is the dataset, not a run."""
    return "dataset_info" if previous in ("synthesize", "dataset_info") and _ITS_INFO.search(body) else None


def _inherit(previous: Intent | None, body: str) -> Intent | None:
    if previous not in _INHERITABLE:
        return None
    if families_in(body) or run_refs(body) or _SPLIT_WORD.search(body) or metrics_in(body) or nii_paths(body)[0]:
        return previous
    return None


def _with_key_values(body: str, intent: Intent, built: list[Step] | Clarify) -> list[Step] | Clarify:
    """Apply ``key=value`` arguments the user wrote; they can stand in for what the builder could not read."""
    if not keyvalue.pairs(body):
        return built
    if isinstance(built, Clarify):
        step = keyvalue.complete_step(body, TOOL_OF_INTENT[intent])
        if step is not None and (problem := _choice_question(step.tool, step.args)):
            return problem
        return [step] if step is not None else built
    for step in built:
        values = keyvalue.tool_values(body, step.tool)
        if problem := _choice_question(step.tool, values):
            return problem
        for key, value in values.items():
            bound = bound_for(step.tool, key)
            if bound and isinstance(value, int | float) and not bound.allows(value):
                return Clarify(f"{bound.what.capitalize()} must be {bound.describe()}, not {value:g}. Which value?")
        step.args.update(values)
    return built


def _choice_question(tool: str, values: dict[str, Any]) -> Clarify | None:
    """ "split=holdout": a written value its argument does not allow, asked about with the allowed ones."""
    found = keyvalue.invalid_choice(tool, values)
    if found is None:
        return None
    key, value, allowed = found
    return Clarify(f"{key} can't be '{value}': it is one of {', '.join(sorted(allowed))}. Which one should I use?")


def _retry(body: str, resolver: RefResolver) -> Intent | None:
    """ "that crashed — try again with batch size 1": a retry of the last training wins over "crashed"."""
    return "train" if resolver.last_train is not None and _RETRY.search(body) else None


def _repeat(body: str, resolver: RefResolver) -> Intent | None:
    """ "same thing but with lr 5e-4": a training like the last one."""
    return "train" if resolver.last_train is not None and AGAIN.search(body) else None


def _merge_train_options(body: str, steps: list[Step], refs: list[RunRef]) -> bool | Clarify:
    """ "Train a SwinUNETR for me. I think twelve epochs should be plenty, and use lr 2e-4.": a clause of options
    alone, right after a training step, sets that step's options (a question when one of them is unusable)."""
    if not steps or steps[-1].tool != "train_model" or families_in(body) or not has_train_option(body):
        return False
    options = train_options(body)
    if isinstance(options, Clarify):
        return options
    if problem := check_values(body, [Step("train_model", dict(options))], refs):
        return problem  # "I think 5000 epochs": out of range, asked about with its limit
    if not options:
        return False
    steps[-1].args.update(options)
    return True


def _same_run_again(previous: Step, step: Step, index: int) -> bool:
    """``step`` asks the same tool about the run ``previous`` (at ``index``) answered about, and nothing more."""
    return step.tool == previous.tool == "get_run" and step.args == {"run_id": StepOutput(index, "run_id")}


def _absolute(step: Step, index: int) -> Step:
    """Turn relative placeholders (StepOutput(-1) = the step before) into absolute step indices."""
    args = {
        key: StepOutput(index + value.step, value.key) if isinstance(value, StepOutput) and value.step < 0 else value
        for key, value in step.args.items()
    }
    return Step(step.tool, args)


def _merge_register(body: str, steps: list[Step]) -> bool:
    """ "…, then register it as X" right after a training step sets that step's register_as instead."""
    if not (_REGISTER_ONLY.search(body) and not _ALIAS_WORD.search(body) and steps):
        return False
    last = steps[-1]
    name = model_name(body)
    if last.tool != "train_model" or "register_as" in last.args or not name:
        return False
    last.args["register_as"] = name
    return True


def _merge_uncertainty(body: str, steps: list[Step]) -> bool:
    """ "segment v.nii.gz with it and save an uncertainty map to u.nii.gz": the map belongs to that prediction."""
    output = risk.uncertainty_output(body)
    if output is None or output.path is None or not steps or steps[-1].tool != "predict_volume":
        return False
    if "uncertainty_path" in steps[-1].args or nii_paths(risk.without_span(body, output.start, output.end))[0]:
        return False
    steps[-1].args["uncertainty_path"] = output.path
    return True


def _text_plan(text: str) -> Plan | None:
    """Help, typed SQL or a refusal decided on the whole message; None when clauses must be read."""
    core = strip_polite(text)
    if not core or is_help(core):
        return Plan(text=HELP_TEXT, text_kind="help")
    sql = literal_sql(text)
    if sql:
        return Plan(steps=[Step("query_runs", {"sql": sql})])
    reason = cannot_reason(text)
    if reason:
        return Plan(text=cannot_text(reason), text_kind="cannot")
    return None


def _clarify_plan(clause: Clause, body: str, question: Clarify) -> Plan:
    """The question as a plan, its positions moved from the clause body into the whole request."""
    offset = clause.start + clause.text.rfind(body)
    at = clause.end if question.at is None else offset + question.at
    span = (offset + question.span[0], offset + question.span[1]) if question.span else None
    return Plan(
        text=question.question,
        text_kind="clarify",
        insert_at=at,
        template=question.template,
        replace=span,
        replace_number=question.number_only,
    )


def build_plan(request: str, history: History | list[str]) -> Plan:
    """Plan one request.

    Args:
        request: The user's request (for an answered question, the original request with the answer inserted).
        history: What earlier turns named: run ids, oldest first ("it" / "that run" → the newest), and the latest
            training ("train it again"); a plain list is taken as the run ids.

    Returns:
        The ordered tool steps, or a single text outcome.
    """
    text = normalize(request)
    decided = _text_plan(text)
    if decided is not None:
        return decided
    steps: list[Step] = []
    understood: list[str] = []
    context = history if isinstance(history, History) else History(list(history))
    resolver = RefResolver(
        context.run_ids,
        context.last_train,
        review_dataset=context.review_dataset,
        reviewed_dataset=context.reviewed_dataset,
        group=context.group,
        dataset=context.dataset,
    )
    previous: Intent | None = INTENT_OF_TOOL.get(context.last_tool or "")  # a verbless follow-up continues it
    for clause in split_clauses(text):
        body = strip_polite(clause.text)
        if not body or is_filler(body):
            continue
        refs = run_refs(body)
        intent = (
            _retry(body, resolver)
            or _dataset_followup(previous, body)
            or classify(body, refs)
            or _inherit(previous, body)
            or _repeat(body, resolver)
        )
        if intent is None:
            merged = _merge_train_options(body, steps, refs)
            if merged is True:
                continue
            if isinstance(merged, Clarify):
                return _clarify_plan(clause, body, merged)
            return Plan(text=unknown_text(body, understood), text_kind="unknown")
        if intent == "promote" and _merge_register(body, steps):
            continue
        if intent == "predict" and _merge_uncertainty(body, steps):
            continue
        built = _with_key_values(body, intent, _BUILDERS[intent](body, refs, resolver))
        if not isinstance(built, Clarify):
            built = check_values(body, built, refs) or built
        if isinstance(built, Clarify):
            return _clarify_plan(clause, body, built)
        for step in built:
            step = _absolute(step, len(steps))
            if steps and steps[-1] == step:
                continue  # "how many volumes … and what's their spacing": one dataset_info answers both
            if steps and _same_run_again(steps[-1], step, len(steps) - 1):
                continue  # "which run is the champion and what were its settings": one get_run answers both
            resolver.note(len(steps), step)
            steps.append(step)
        understood.append(describe_step(built[0]))
        previous = intent
    if not steps:
        return Plan(text=_IDLE_TEXT, text_kind="unknown")
    return Plan(steps=steps)
