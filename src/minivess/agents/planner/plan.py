"""From a request to a plan: clauses → intents → steps, or one text outcome (help, question, refusal)."""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner import keyvalue
from minivess.agents.planner.accounting import check_values
from minivess.agents.planner.bounds import bound_for
from minivess.agents.planner.clauses import Clause, is_filler, normalize, split_clauses, strip_polite
from minivess.agents.planner.dispatch import BUILDERS
from minivess.agents.planner.followups import (
    context_clause,
    dataset_followup,
    follow_up,
    inherit,
    repeat,
    retry,
    same_for,
    search_followup,
    situation_clause,
)
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.intents import (
    INTENT_OF_TOOL,
    TOOL_OF_INTENT,
    cannot_reason,
    classify,
    is_help,
)
from minivess.agents.planner.lexicon import NUMBER_WORDS, families_in, metrics_in
from minivess.agents.planner.merge import (
    another_training,
    merge_drift_model,
    merge_outputs,
    merge_queue_predictions,
    merge_register,
    merge_risk,
    merge_row_limit,
    merge_tool_options,
    merge_train_options,
    merge_uncertainty,
)
from minivess.agents.planner.models import Clarify, History, Plan, Step, StepOutput
from minivess.agents.planner.refs import RunRef, run_refs
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.slots import row_cap
from minivess.agents.planner.sqlmap import literal_sql
from minivess.agents.planner.texts import EXAMPLES, HELP_TEXT, cannot_text, describe_step, unknown_text

_IDLE_TEXT: Final = f'What should I do next? For example: {", ".join(EXAMPLES[:3])} (or say "help").'


def _with_key_values(body: str, intent: Intent, built: list[Step] | Clarify) -> list[Step] | Clarify:
    """Apply ``key=value`` arguments the user wrote; they can stand in for what the builder could not read."""
    if not keyvalue.pairs(body):
        return built
    if isinstance(built, Clarify):
        step = keyvalue.complete_step(body, TOOL_OF_INTENT[intent])
        if step is not None and (problem := _choice_question(step.tool, step.args) or _bound_question(step)):
            return problem
        return [step] if step is not None else built
    for step in built:
        values = keyvalue.tool_values(body, step.tool)
        if problem := _choice_question(step.tool, values) or _bound_question(Step(step.tool, values)):
            return problem
        step.args.update(values)
    return built


def _bound_question(step: Step) -> Clarify | None:
    """ "alpha=1.5": a written number outside its argument's range, asked about with the limit."""
    for key, value in step.args.items():
        bound = bound_for(step.tool, key)
        if bound and isinstance(value, int | float) and not isinstance(value, bool) and not bound.allows(value):
            return Clarify(f"{bound.what.capitalize()} must be {bound.describe()}, not {value:g}. Which value?")
    return None


def _choice_question(tool: str, values: dict[str, Any]) -> Clarify | None:
    """ "split=holdout": a written value its argument does not allow, asked about with the allowed ones."""
    found = keyvalue.invalid_choice(tool, values)
    if found is None:
        return None
    key, value, allowed = found
    return Clarify(f"{key} can't be '{value}': it is one of {', '.join(sorted(allowed))}. Which one should I use?")


def _same_run_again(previous: Step, step: Step, index: int) -> bool:
    """``step`` asks the same tool again about the run ``previous`` (at ``index``) was about, with nothing new:
    "which run is the champion and what were its settings", "is the ensemble over-confident? calibrate it"."""
    if step.tool != previous.tool or step.tool == "train_model":
        return False
    run = step.args.get("run_id")
    if run is None or run not in (StepOutput(index), previous.args.get("run_id")):
        return False  # no run named: "find label issues …, then find label issues again" is two steps
    rest = {key: value for key, value in step.args.items() if key != "run_id"}
    return all(previous.args.get(key) == value for key, value in rest.items())


def _absolute(step: Step, index: int) -> Step:
    """Turn relative placeholders (StepOutput(-1) = the step before) into absolute step indices."""
    args = {
        key: StepOutput(index + value.step, value.key) if isinstance(value, StepOutput) and value.step < 0 else value
        for key, value in step.args.items()
    }
    return Step(step.tool, args)


# A request before typed SQL, ended like a clause: "which tables do we have? and then run SELECT …".
_LEAD_REQUEST: Final = re.compile(
    r"^(?P<lead>.*?\w.*?)(?:[?.!;]\s*(?:and\s+)?(?:then\s+)?|,?\s+(?:and\s+then|then|after\s+that|and)\s+)"
    r"(?:(?:please\s+)?(?:run|execute|do)\s+(?:this|the\s+query|this\s+query)?:?\s*)?$",
    re.I | re.S,
)


_VAGUE_AFTER: Final = re.compile(r"^(?:so\s+)?what(?:'s|\s+is)\s+(?:going\s+on|happening|up)\s*[?.!]*$", re.I)


def _adds_nothing(body: str, refs: list[RunRef], resolver: RefResolver) -> bool:
    """A leaderboard clause that sets nothing but the default metric ("leaderboard please")."""
    built = BUILDERS["leaderboard"](body, refs, resolver)
    return not isinstance(built, Clarify) and len(built) == 1 and set(built[0].args) <= {"metric"}


_VALUE_WORD: Final = re.compile(
    rf"\b(?:loss|dice|ce|cldice|val|test|train|split|alpha|fnr|epochs?|lr|batch|patch|seed|folds?|top|{NUMBER_WORDS})\b|['\"`%]",
    re.I,
)


_DO_IT: Final = re.compile(
    r"\s*(?:(?:please|so|and|then)\s+)?(?:find|do|show|list|flag|spot)\s+(?:them|it|those|that)"
    r"(?:\s+(?:for\s+me|please|now))?\s*[.!?]*\s*",
    re.I,
)


def _restates(body: str, intent: Intent, refs: list[RunRef], resolver: RefResolver, last: Step) -> bool:
    """ "does that folder differ from the champion's training set? drift check": a short clause that names the
    tool just planned and nothing else (no run, number or path) asks for that step again, not for a second one."""
    if TOOL_OF_INTENT.get(intent) != last.tool or refs or len(body.split()) > 3 or re.search(r"[\d/~]", body):
        return False
    built = BUILDERS[intent](body, refs, resolver)
    if isinstance(built, Clarify):  # the builder asks for what the step before has; a value named is not restated
        return not (_VALUE_WORD.search(body) or metrics_in(body) or families_in(body))
    return len(built) == 1 and all(last.args.get(key) == value for key, value in built[0].args.items())


def _text_plan(text: str, history: History | list[str]) -> Plan | None:
    """Help, typed SQL or a refusal decided on the whole message; None when clauses must be read."""
    core = strip_polite(text)
    if not core or is_help(core):
        return Plan(text=HELP_TEXT, text_kind="help")
    sql = literal_sql(text)
    if sql:
        before = text[: text.find(sql)] if sql in text else text
        after = text[text.find(sql) + len(sql) :] if sql in text else ""  # "… with max_rows=50", "(max 5 rows)"
        comment = sql.partition("--")[2]  # "SELECT … -- give me up to 5000 rows"
        cap = row_cap(before) or row_cap(comment) or row_cap(after)
        step = Step("query_runs", {"sql": sql, **({"max_rows": cap} if cap else {})})
        if problem := _bound_question(step):  # "with at most 5000 rows": above the tool's row cap
            written = re.search(rf"(?<![\w.]){cap}(?![\w.])", before)  # the answer replaces the number written
            written = written or re.search(rf"(?<![\w.]){cap}(?![\w.])", text)
            span = written.span() if written else None
            return Plan(text=problem.question, text_kind="clarify", replace=span, replace_number=span is not None)
        lead = _LEAD_REQUEST.match(before)
        if lead and not is_filler(lead.group("lead")):
            first = build_plan(lead.group("lead"), history)  # "which tables do we have? and then run SELECT …"
            if first.steps:
                return Plan(steps=[*first.steps, step])
            if first.text_kind == "clarify":
                return first
        if problem := check_values(text, [step], []):  # "limit (5) rows please: SELECT …": 5 is asked about
            return Plan(text=problem.question, text_kind="clarify", replace=problem.span)
        return Plan(steps=[step])
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
    decided = _text_plan(text, history)
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
        run_labels=context.run_labels,
        dataset=context.dataset,
        alpha=context.alpha,
        last_args=context.last_args,
        search_id=context.search_id,
        last_tool=context.last_tool,
    )
    previous: Intent | None = INTENT_OF_TOOL.get(context.last_tool or "")  # a verbless follow-up continues it
    clauses = split_clauses(text)
    for index, clause in enumerate(clauses):
        body = strip_polite(clause.text)
        if not body or is_filler(body) or (index < len(clauses) - 1 and context_clause(body, resolver)):
            continue
        if steps and _VAGUE_AFTER.match(body):
            continue  # "so many of my runs have been crashing, what's going on?": the request before says what
        refs = run_refs(body)
        intent = (
            retry(body, resolver)
            or search_followup(previous, body, refs)
            or same_for(previous, body)
            or dataset_followup(previous, body)
            or classify(body, refs)
            or inherit(previous, body)
            or repeat(body, resolver)
        )
        if intent == "conformal" and merge_risk(body, steps, refs):
            continue
        if intent is not None and steps and _restates(body, intent, refs, resolver, steps[-1]):
            continue
        if intent is None and (rows := merge_row_limit(body, steps)):
            if isinstance(rows, Clarify):
                return _clarify_plan(clause, body, rows)
            continue
        if intent is None and steps and _DO_IT.fullmatch(body):
            continue  # "I suspect bad annotations in data/x, find them": the step just planned, asked for
        if intent in (None, "get_run", "predict") and merge_drift_model(body, steps, refs, resolver):
            continue
        if intent == "leaderboard" and not (metrics_in(body) or families_in(body) or refs):
            # "find mislabelled slices. show the top 30, 1 epoch per fold": the options of that search, no ranking
            merged = merge_tool_options(body, steps, refs, resolver)
            if isinstance(merged, Clarify):
                return _clarify_plan(clause, body, merged)
            if merged:
                continue
            if steps and steps[-1].tool == "leaderboard" and _adds_nothing(body, refs, resolver):
                continue  # "who has the lowest HD95? leaderboard please": the ranking already planned
        if (intent is None or intent == (INTENT_OF_TOOL.get(steps[-1].tool) if steps else previous)) and (
            again := follow_up(body, previous, resolver, refs, steps)
        ):
            for step in again:
                step = _absolute(step, len(steps))
                resolver.note(len(steps), step)
                steps.append(step)
            understood.append(describe_step(again[0]))
            continue
        if intent is None and (another := another_training(body, steps, refs)) is not None:
            if isinstance(another, Clarify):
                return _clarify_plan(clause, body, another)
            resolver.note(len(steps), another)
            steps.append(another)
            understood.append(describe_step(another))
            continue
        if intent is None and index < len(clauses) - 1 and situation_clause(body, refs):
            continue
        if intent is None:
            merged = merge_train_options(body, steps, refs) or merge_tool_options(body, steps, refs, resolver)
            if merged is True:
                continue
            if isinstance(merged, Clarify):
                return _clarify_plan(clause, body, merged)
            return Plan(text=unknown_text(body, understood), text_kind="unknown")
        if intent == "promote" and merge_register(body, steps):
            continue
        if intent == "predict" and (
            merge_outputs(body, steps)
            or merge_uncertainty(body, steps)
            or merge_queue_predictions(body, steps, refs, resolver)
        ):
            continue
        built = _with_key_values(body, intent, BUILDERS[intent](body, refs, resolver))
        if not isinstance(built, Clarify):
            built = check_values(body, built, refs) or built
        if isinstance(built, Clarify):
            return _clarify_plan(clause, body, built)
        for step in built:
            step = _absolute(step, len(steps))
            if steps and steps[-1] == step:
                continue  # "how many volumes … and what's their spacing": one dataset_info answers both
            if steps and step.tool == steps[-1].tool == "dataset_info" and not step.args:
                continue  # "what's in /data/minivess? shapes, spacing, that sort of thing": the same dataset
            if steps and _same_run_again(steps[-1], step, len(steps) - 1):
                continue  # "which run is the champion and what were its settings": one get_run answers both
            resolver.note(len(steps), step)
            steps.append(step)
        understood.append(describe_step(built[0]))
        previous = intent
    if not steps:
        return Plan(text=_IDLE_TEXT, text_kind="unknown")
    return Plan(steps=steps)
