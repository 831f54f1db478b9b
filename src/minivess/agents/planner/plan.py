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
from minivess.agents.planner.slots import directories, model_name, nii_paths, row_cap
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
_FOLDER_INTENTS: Final = frozenset({"check_drift", "dataset_info", "label_issues", "review_status"})
_SPLIT_WORD: Final = re.compile(r"\b(?:val(?:idation)?|test|train(?:ing)?)\b", re.I)
_REGISTER_ONLY: Final = re.compile(r"\bregister", re.I)
_ALIAS_WORD: Final = re.compile(r"\b(?:champion|challenger)\b", re.I)
_ITS_INFO: Final = re.compile(
    r"\b(?:its|their)\s+(?:info\w*|details?|summary|stats|statistics|spacing|volumes)\b"
    r"|\bwhat(?:'s|\s+is)\s+in\s+(?:it|there|that)\b",
    re.I,
)
_RETRY: Final = re.compile(
    r"\b(?:try|do|run)\s+(?:it\s+|that\s+|this\s+)?again\b|\bretry\b|^\s*re-?run\s+(?:it|that|this)\b"
    r"|\bsame\s+(?:thing|setup|config\w*|settings?|training)\b",
    re.I,
)
_IDLE_TEXT: Final = f'What should I do next? For example: {", ".join(EXAMPLES[:3])} (or say "help").'


_SEARCH_FOLLOW: Final = re.compile(
    r"\b(?:status|progress|finished|done|over|complete|running|going|how\s+(?:is|'s)\s+it|news|trials?)\b", re.I
)
_SAME_FOR: Final = re.compile(
    r"^(?:and\s+|now\s+|then\s+)?(?:(?:do\s+)?(?:the\s+)?same(?:\s+thing)?(?:\s+again)?|likewise|ditto|again)\s+"
    r"(?:for|with|on)\b",
    re.I,
)


def _search_followup(previous: Intent | None, body: str, refs: list[RunRef]) -> Intent | None:
    """ "…, then tell me its status", "is it finished yet?" right after a search: that search's status."""
    if not _SEARCH_FOLLOW.search(body) or not all(ref.kind == "pronoun" for ref in refs):
        return None
    if previous in ("start_search", "search_status"):
        return "search_status"
    if previous in ("queue_review", "review_status") and _HOW_GOING.search(body):
        return "review_status"  # "how is that going?" right after queueing slices for review
    return None


_HOW_GOING: Final = re.compile(
    r"\bhow(?:\s+is|\s*'s|\s+are)\s+(?:it|that|this|they|things)\b.{0,20}\b(?:going|coming|progressing)\b"
    r"|^(?:any\s+)?(?:progress|news|updates?)\s*[?.!]?$",
    re.I,
)


def _same_for(previous: Intent | None, body: str) -> Intent | None:
    """ "and the same for the challenger": the previous request's tool, on what this clause names."""
    return previous if previous is not None and _SAME_FOR.search(body) else None


# "and at 2%?", "same but overall, top 3", "what about the learning rate?": the previous tool, with what changed
_ELLIPSIS: Final = re.compile(
    r"^(?:and|but|now|same\s+(?:thing\s+)?but|(?:and\s+)?(?:what|how)\s+about|(?:do\s+)?the\s+same\s+(?:thing\s+)?for)\b"
    r"(?!\s+(?:then|also|train|show|plot|compare|evaluate|promote|segment|generate|synthesi[sz]e)\b)"
    # "now the challenger's" ("now" stripped): the same, for it
    r"|^(?!(?:what|it|that|there|here|who|how|where|let)'s)(?:the\s+)?(?:[\w:-]+\s+)?[\w-]+'s\s*[?.!]?$",
    re.I,
)


def _follow_up(
    body: str, previous: Intent | None, resolver: RefResolver, refs: list[RunRef], steps: list[Step]
) -> list[Step] | None:
    """An elliptic follow-up of the previous step's tool (this request's, else the previous turn's): its builder
    reads what this clause changes, and the arguments the clause does not name are kept from that earlier call;
    None when the clause is not one. Not for training, whose repeats ("again with seed 2") have their own rule."""
    tool = steps[-1].tool if steps else TOOL_OF_INTENT.get(previous) if previous is not None else None
    intent = INTENT_OF_TOOL.get(tool or "")
    if tool in (None, "train_model") or intent not in _BUILDERS or not _ELLIPSIS.search(body):
        return None
    earlier = steps[-1].args if steps else resolver.last_args.get(tool or "")
    if earlier is None:
        return None
    built = _BUILDERS[intent](body, refs, resolver)
    if isinstance(built, Clarify) or len(built) != 1 or built[0].tool != tool:
        return None
    args = dict(built[0].args)
    if "metric" in args and "metric" in earlier and not metrics_in(body):
        args["metric"] = earlier["metric"]  # the builder's default metric, not one the user named
    if "run_id" in args and earlier.get("run_id") not in (None, "last", "latest") and not refs:
        args["run_id"] = earlier["run_id"]  # "do the same for b.nii.gz" with the champion: the champion again
    kept = {key: value for key, value in earlier.items() if key not in args}
    step = Step(tool, {**kept, **args})
    return None if check_values(body, [step], refs) else [step]


_CONTEXT: Final = re.compile(r"^(?:before|until|so\s+that|while)\s+(?:i|we)\b", re.I)


def _context_clause(body: str, resolver: RefResolver) -> bool:
    """ "before I predict on ~/2p/batch9, check whether it drifted from ~/2p/batch1": what the user will do next is
    context, not a request (when a request follows); the one folder it names is what "it" means after it."""
    if not _CONTEXT.match(body):
        return False
    found = directories(body)
    if len(found) == 1:
        resolver.dataset = found[0][0]
    return True


def _dataset_followup(previous: Intent | None, body: str) -> Intent | None:
    """ "generate a shifted dataset …, then show its info": "its" is the dataset, not a run."""
    return "dataset_info" if previous in ("synthesize", "dataset_info") and _ITS_INFO.search(body) else None


def _inherit(previous: Intent | None, body: str) -> Intent | None:
    if previous in _FOLDER_INTENTS and directories(body):
        return previous  # "now do data/siteC against the same reference"
    if previous not in _INHERITABLE:
        return None
    refs = run_refs(body)
    if previous == "train":  # "train a dynunet, give it 1.5h at most": "it" is that training, these its options
        refs = [ref for ref in refs if ref.kind != "pronoun"]
    if families_in(body) or refs or _SPLIT_WORD.search(body) or metrics_in(body) or nii_paths(body)[0]:
        return previous
    return None


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


_ANOTHER: Final = re.compile(r"^(?:and\s+)?(?:another|a\s+second)(?:\s+one)?\b", re.I)


def _another_training(body: str, steps: list[Step], refs: list[RunRef]) -> Step | Clarify | None:
    """ "train one segresnet for 5 epochs with dice_ce and another for 5 epochs with dice_ce_cldice": a second
    training of the same family with this clause's options (not the first one's options changed)."""
    another = _ANOTHER.match(body)
    if another is None or not steps or steps[-1].tool != "train_model" or families_in(body):
        return None
    options = train_options(body[another.end() :])  # "a second one": not a duration of one second
    if isinstance(options, Clarify):
        return options
    step = Step("train_model", {"model": steps[-1].args["model"], **options})
    problem = check_values(body, [step], refs)
    if problem is None and (each := _EACH.search(body)):
        shared = train_options(each.group("options"))  # "…, 25 epochs each": every training of this request
        for earlier in steps:
            if earlier.tool == "train_model" and isinstance(shared, dict):
                earlier.args.update({key: value for key, value in shared.items() if key not in earlier.args})
    return problem or step


_EACH: Final = re.compile(r"(?:^|,|\band\b)\s*(?P<options>[^,;]+?)\s+(?:each|for\s+both|both)\s*[.!]?$", re.I)


_OPTION_TOOLS: Final = frozenset({"find_label_issues", "start_search"})


def _merge_tool_options(body: str, steps: list[Step], refs: list[RunRef], resolver: RefResolver) -> bool | Clarify:
    """ "find label issues in data/x. Do it with five folds", "…, list the worst 50": options of the step before,
    read by that step's own builder, set on it (a question when one is unusable)."""
    if (
        not steps
        or steps[-1].tool not in _OPTION_TOOLS
        or not re.search(
            r"\d|\b(?:single|one|two|three|four|five|six"
            r"|seven|eight|nine|ten|twenty|fifty)\b",
            body,
            re.I,
        )
    ):
        return False
    built = _BUILDERS[INTENT_OF_TOOL[steps[-1].tool]](body, refs, resolver)
    if isinstance(built, Clarify):
        return built
    options = {key: value for key, value in built[0].args.items() if key != "dataset" or directories(body)}
    if not options:
        return False
    if problem := check_values(body, [Step(steps[-1].tool, dict(options))], refs):
        return problem
    steps[-1].args.update(options)
    return True


_FOR_PREDICTIONS: Final = re.compile(r"\bpredictions?\b|\bmodel\b", re.I)


def _merge_drift_model(body: str, steps: list[Step], refs: list[RunRef], resolver: RefResolver) -> bool:
    """ "is data/new different from data/old? use run 77ab12cd for the predictions": that check's model."""
    if not steps or steps[-1].tool != "check_drift" or "model" in steps[-1].args or not _FOR_PREDICTIONS.search(body):
        return False
    runs = resolver.resolve([ref for ref in refs if ref.kind != "pronoun"], single=True)
    if not runs:
        return False
    steps[-1].args["model"] = runs[0]
    return True


_CONFORMAL_MASK: Final = re.compile(r"\bconformal\s+(?:mask|segmentation|prediction|output)s?\b", re.I)


def _merge_risk(body: str, steps: list[Step], refs: list[RunRef]) -> bool:
    """ "segment v.nii.gz with the challenger; I can live with losing 8 % of the vessels": that prediction's risk."""
    if not steps or steps[-1].tool != "predict_volume" or "risk_fnr" in steps[-1].args or refs:
        return False
    if re.search(r"\bconformal\w*|\bthreshold\b|\bcalibrat\w*", body, re.I) and not _CONFORMAL_MASK.search(body):
        return False  # "…; and give me the conformal mask that misses at most 10 %" is that prediction's risk
    value = risk.fnr_value(body, "The tolerated share of missed vessel voxels (risk_fnr)")
    if not isinstance(value, float):
        return False
    steps[-1].args["risk_fnr"] = value
    return True


def _same_run_again(previous: Step, step: Step, index: int) -> bool:
    """``step`` asks the same tool again about the run ``previous`` (at ``index``) was about, with nothing new:
    "which run is the champion and what were its settings", "is the ensemble over-confident? calibrate it"."""
    if step.tool != previous.tool or step.tool == "train_model" or step.args.get("run_id") != StepOutput(index):
        return False
    rest = {key: value for key, value in step.args.items() if key != "run_id"}
    return all(previous.args.get(key) == value for key, value in rest.items())


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


_MASK_OUTPUT: Final = re.compile(
    r"^(?:and\s+)?(?:the\s+)?(?:mask|segmentation|output|prediction)\s+(?:to|into|at|:)\s*['\"`]?(?P<path>[\w./~-]+\.nii(?:\.gz)?)",
    re.I,
)


def _merge_outputs(body: str, steps: list[Step]) -> bool:
    """ "segment a.nii.gz with 2e4f6a8c; mask -> m.nii.gz, uncertainty -> u.nii.gz": where that prediction's
    files go, not a second prediction."""
    mask = _MASK_OUTPUT.match(body)
    if mask is None or not steps or steps[-1].tool != "predict_volume" or "output_path" in steps[-1].args:
        return False
    rest = body[mask.end() :]
    output = risk.uncertainty_output(rest)
    uncertainty = output.path if output is not None else None
    left = risk.without_span(rest, output.start, output.end) if output is not None and uncertainty else rest
    if nii_paths(left)[0]:
        return False  # another volume: a prediction of its own
    steps[-1].args["output_path"] = mask.group("path")
    if uncertainty is not None:
        steps[-1].args["uncertainty_path"] = uncertainty
    return True


_BESIDE: Final = re.compile(r"\bpredictions?\b.{0,40}\b(?:next\s+to|alongside|beside|with|on\s+top\s+of)\b", re.I)


def _merge_queue_predictions(body: str, steps: list[Step], refs: list[RunRef], resolver: RefResolver) -> bool:
    """ "queue 25 slices for the annotators and show the last run's prediction next to each": the run whose
    predictions the queue shows, not a prediction of a volume."""
    if not steps or steps[-1].tool != "queue_for_review" or nii_paths(body)[0] or not _BESIDE.search(body):
        return False
    runs = resolver.resolve(refs, single=True) if refs else []
    if not runs:
        return False
    steps[-1].args["run_id"] = runs[0]
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


# A request before typed SQL, ended like a clause: "which tables do we have? and then run SELECT …".
_LEAD_REQUEST: Final = re.compile(
    r"^(?P<lead>.*?\w.*?)(?:[?.!;]\s*(?:and\s+)?(?:then\s+)?|,?\s+(?:and\s+then|then|after\s+that)\s+)"
    r"(?:(?:please\s+)?(?:run|execute|do)\s+(?:this|the\s+query|this\s+query)?:?\s*)?$",
    re.I | re.S,
)


def _text_plan(text: str) -> Plan | None:
    """Help, typed SQL or a refusal decided on the whole message; None when clauses must be read."""
    core = strip_polite(text)
    if not core or is_help(core):
        return Plan(text=HELP_TEXT, text_kind="help")
    sql = literal_sql(text)
    if sql:
        before = text[: text.find(sql)] if sql in text else text
        cap = row_cap(before) or keyvalue.tool_values(before, "query_runs").get("max_rows")  # "max 50 rows: SELECT …"
        step = Step("query_runs", {"sql": sql, **({"max_rows": cap} if cap else {})})
        if problem := _bound_question(step):  # "with at most 5000 rows": above the tool's row cap
            written = re.search(rf"(?<![\w.]){cap}(?![\w.])", before)  # the answer replaces the number written
            span = written.span() if written else None
            return Plan(text=problem.question, text_kind="clarify", replace=span, replace_number=span is not None)
        lead = _LEAD_REQUEST.match(before)
        if lead and not is_filler(lead.group("lead")):
            first = build_plan(lead.group("lead"), [])  # "which tables do we have? and then run SELECT …"
            if first.steps:
                return Plan(steps=[*first.steps, step])
            if first.text_kind == "clarify":
                return first
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
        alpha=context.alpha,
        last_args=context.last_args,
        search_id=context.search_id,
    )
    previous: Intent | None = INTENT_OF_TOOL.get(context.last_tool or "")  # a verbless follow-up continues it
    clauses = split_clauses(text)
    for index, clause in enumerate(clauses):
        body = strip_polite(clause.text)
        if not body or is_filler(body) or (index < len(clauses) - 1 and _context_clause(body, resolver)):
            continue
        refs = run_refs(body)
        intent = (
            _retry(body, resolver)
            or _search_followup(previous, body, refs)
            or _same_for(previous, body)
            or _dataset_followup(previous, body)
            or classify(body, refs)
            or _inherit(previous, body)
            or _repeat(body, resolver)
        )
        if intent == "conformal" and _merge_risk(body, steps, refs):
            continue
        if intent in (None, "get_run", "predict") and _merge_drift_model(body, steps, refs, resolver):
            continue
        if intent == "leaderboard" and not (metrics_in(body) or families_in(body) or refs):
            # "find mislabelled slices. show the top 30, 1 epoch per fold": the options of that search, no ranking
            merged = _merge_tool_options(body, steps, refs, resolver)
            if isinstance(merged, Clarify):
                return _clarify_plan(clause, body, merged)
            if merged:
                continue
            if steps and steps[-1].tool == "leaderboard":
                continue  # "who has the lowest HD95? leaderboard please": the ranking already planned
        if (intent is None or intent == (INTENT_OF_TOOL.get(steps[-1].tool) if steps else previous)) and (
            again := _follow_up(body, previous, resolver, refs, steps)
        ):
            for step in again:
                step = _absolute(step, len(steps))
                resolver.note(len(steps), step)
                steps.append(step)
            understood.append(describe_step(again[0]))
            continue
        if intent is None and (another := _another_training(body, steps, refs)) is not None:
            if isinstance(another, Clarify):
                return _clarify_plan(clause, body, another)
            resolver.note(len(steps), another)
            steps.append(another)
            understood.append(describe_step(another))
            continue
        if intent is None:
            merged = _merge_train_options(body, steps, refs) or _merge_tool_options(body, steps, refs, resolver)
            if merged is True:
                continue
            if isinstance(merged, Clarify):
                return _clarify_plan(clause, body, merged)
            return Plan(text=unknown_text(body, understood), text_kind="unknown")
        if intent == "promote" and _merge_register(body, steps):
            continue
        if intent == "predict" and (
            _merge_outputs(body, steps)
            or _merge_uncertainty(body, steps)
            or _merge_queue_predictions(body, steps, refs, resolver)
        ):
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
