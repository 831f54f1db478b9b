"""Builders for the review loop: find suspicious label slices, queue them for review, check progress, import fixes.

Every value is accounted for: a count outside its tool's range ("with 1 fold", "queue 1000 slices", "-3 epochs")
gets a question naming the limit, a dataset named but not given as a folder gets a question, and a run named where
the tool takes none (find_label_issues trains its own fold models) is asked about rather than ignored. With no
number the tools' defaults apply (3 folds, the 20 most suspicious slices). Queueing, status and import continue
on the folder the loop last worked on (this request's earlier step, else the conversation's), as "them" implies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from minivess.agents.planner import slots
from minivess.agents.planner.bounds import BOUNDS, Bound
from minivess.agents.planner.builders import Builder, Built, targets
from minivess.agents.planner.datasets import dataset_name
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.lexicon import NUM, parse_number
from minivess.agents.planner.models import Clarify, Step, StepOutput
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver, RunValue
from minivess.agents.planner.texts import DATASET_QUESTION, REVIEWED_QUESTION, render_ref, run_question

_I: Final = re.I
_SIGNED: Final = rf"(?P<sign>[-−]\s?)?(?P<n>{NUM})"
_NOT_COUNT: Final = r"(?!\s*-?\s*(?:epochs?|eps?|folds?|volumes?|minutes?|hours?|%|percent)\b)"
_FOLDS: Final = (
    re.compile(rf"(?<![\w.]){_SIGNED}\s*-?\s*(?:(?:cross[\s-]?validation|cv)\s+)?folds?\b", _I),
    re.compile(rf"\bfolds?\s*(?:=|:|of|to|set\s+to)\s*{_SIGNED}(?![\w.])", _I),
)
_EPOCHS: Final = (
    re.compile(rf"(?<![\w.]){_SIGNED}\s*-?\s*(?:single\s+|full\s+)?(?:epochs?|eps?)\b", _I),
    re.compile(rf"\bepochs?\s*(?:=|:|of|to|set\s+to)\s*{_SIGNED}(?![\w.])", _I),
)
_TOP: Final = (
    re.compile(rf"\b(?:top|first|worst|bottom)[\s-]+{_SIGNED}(?![\w.]){_NOT_COUNT}", _I),
    re.compile(
        rf"(?<![\w.]){_SIGNED}{_NOT_COUNT}\s+(?:of\s+(?:the|our|my)\s+)?(?:most[\s-]+(?:suspicious|suspect|dubious|doubtful|questionable|likely)"
        r"|worst|top|suspicious|suspect|lowest[\s-]+scor\w*|(?:[a-z-]+\s+){0,2}?slices?)\b",
        _I,
    ),
    re.compile(rf"\btop[\s_-]?k\s*(?:=|:|of|to)?\s*{_SIGNED}(?![\w.])", _I),
    re.compile(
        rf"\b(?:queue|send|list|show|flag|review)\s+(?:me\s+)?(?:the\s+|those\s+|these\s+|all\s+)?{_SIGNED}(?![\w.])"
        rf"{_NOT_COUNT}",
        _I,
    ),
)
_NOT_NUMBERS: Final = frozenset({"a", "an"})
# "find label issues with the champion": the tool trains its own fold models and takes no run.
_RUN_KINDS: Final = frozenset({"id", "alias", "last", "previous", "best", "lastn"})
_OOF_FAMILY: Final = "segresnet"  # find_label_issues trains segresnet_tiny fold models (tools/annotation.py)
_PREDICTION: Final = re.compile(r"\bpredict(?:ions?|ed)\b|\bmodel(?:'s)?\s+(?:outputs?|masks?)\b", _I)
_ITS_PREDICTION: Final = re.compile(r"^\s*(?:'s\s+|s\s+)?(?:own\s+)?(?:predictions?|predicted\s+masks?|masks?)\b", _I)
# "in it", "of those volumes": the folder an earlier step of this request made or looked at.
_IN_IT: Final = re.compile(
    r"\b(?:in|on|of|for|from|with)\s+(?:it|them|that|this|these|those|the\s+same)(?:\s+(?:new\s+)?(?:data(?:set)?|folder"
    r"|one|volumes|batch))?\b(?!\s+(?:predictions?|runs?|models?))|\bthere\b",
    _I,
)


@dataclass(frozen=True)
class _Count:
    """A count as written: its value (None when it is not a whole number) and where it stands."""

    value: int | None
    start: int
    end: int
    token: str


def _counts(clause: str, patterns: tuple[re.Pattern[str], ...]) -> list[_Count]:
    found: list[_Count] = []
    for pattern in patterns:
        for match in pattern.finditer(clause):
            word = match.group("n").strip()
            if word.lower() in _NOT_NUMBERS:
                continue
            number = parse_number(word)
            negative = bool(match.group("sign"))
            whole = number is not None and number == int(number)
            value = (-int(number) if negative else int(number)) if whole and number is not None else None
            start = match.start("sign") if negative else match.start("n")
            found.append(_Count(value, start, match.end("n"), clause[start : match.end("n")]))
    return sorted(found, key=lambda count: count.start)


def _count(clause: str, patterns: tuple[re.Pattern[str], ...], bound: Bound) -> int | Clarify | None:
    """The last count the patterns find (an answer appended to the request comes last), or a question naming the
    limit when it breaks the tool's range; None when none is written (the tool's default applies)."""
    found = _counts(clause, patterns)
    if not found:
        return None
    count = found[-1]
    if count.value is None or not bound.allows(count.value):
        return Clarify(
            f"{bound.what.capitalize()} must be a whole number {bound.describe()}, not '{count.token}'. Which "
            f"value should I use (for example {bound.example})?",
            at=count.start,
            span=(count.start, count.end),
            number_only=True,
        )
    return count.value


def _blank(clause: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        clause = clause[:start] + " " * (end - start) + clause[end:]
    return clause


def _folder(clause: str, res: RefResolver, *, continues: bool, output_phrase: bool = False) -> Any | Clarify:
    """The dataset argument: a folder written, the reviewed version named, "in it" (this request's folder), else
    (``continues``) the folder the review loop last worked on; None leaves the tool's default (synthetic data)."""
    path = slots.directory(clause)
    if path:
        return path
    reviewed = None if output_phrase else slots.reviewed_dataset(clause)
    if reviewed is not None:
        if res.reviewed is None:
            return Clarify(REVIEWED_QUESTION, at=reviewed.start(), span=reviewed.span())
        return res.reviewed
    if named := dataset_name(clause):
        return named
    if within := _IN_IT.search(clause):
        if res.dataset is not None:
            return res.dataset
        if res.made is not None:
            return StepOutput(res.made, "path")
        if not continues:  # "find label issues in it" with no folder in sight ("of them" may be the slices)
            return Clarify(DATASET_QUESTION, at=within.start(), span=within.span())
    if continues and (res.review_planned or res.review_dataset is not None):
        return res.review_dataset
    return None


def _runs_named(refs: list[RunRef]) -> list[RunRef]:
    return [ref for ref in refs if ref.kind in _RUN_KINDS or ref.kind == "family"]


def _no_run(tool: str, clause: str, refs: list[RunRef], why: str) -> Clarify | None:
    """A run named to a tool that takes none: ask rather than drop it."""
    named = _runs_named(refs)
    if tool == "find_label_issues":
        named = [ref for ref in named if not (ref.kind == "family" and ref.value == f"best:{_OOF_FAMILY}")]
    if not named:
        return None
    ref = named[0]
    written = clause[ref.start : ref.end].strip()
    return Clarify(
        f"{tool} {why}, so it cannot use '{written}'. Should I run it without that? (Say 'yes', or 'drop it'.)",
        at=ref.start,
        span=(ref.start, ref.end),
    )


def _with_dataset(args: dict[str, Any], folder: Any) -> dict[str, Any]:
    return {**({"dataset": folder} if folder is not None else {}), **args}


def build_label_issues(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """find_label_issues: folds ("with 5 folds"), epochs per fold, how many slices to list ("the 30 most …")."""
    if problem := _no_run("find_label_issues", clause, refs, f"trains its own small {_OOF_FAMILY} model per fold"):
        return problem
    folder = _folder(clause, res, continues=False)
    if isinstance(folder, Clarify):
        return folder
    args: dict[str, Any] = {}
    for key, patterns in (("folds", _FOLDS), ("epochs", _EPOCHS), ("top", _TOP)):
        value = _count(clause, patterns, BOUNDS[f"find_label_issues.{key}"])
        if isinstance(value, Clarify):
            return value
        if value is not None:
            args[key] = value
    return [Step("find_label_issues", _with_dataset(args, folder))]


def _prediction_run(clause: str, refs: list[RunRef], res: RefResolver) -> RunValue | Clarify | None:
    """Whose prediction the reviewer sees: a run named ("with the champion's predictions"), "its predictions"
    (the conversation's run), or a question when predictions are asked for without a run."""
    named = _runs_named(refs)
    pronouns = [ref for ref in refs if ref.kind == "pronoun" and _ITS_PREDICTION.match(clause[ref.end :])]
    if named:
        runs = list(dict.fromkeys(res.resolve(named, single=False)))
        if len(runs) > 1:
            shown = " or ".join(render_ref(run) for run in runs)
            return Clarify(f"The reviewer sees one run's prediction next to each mask: {shown}? Which one?")
        return runs[0] if runs else None
    if pronouns:
        found = targets(pronouns, res, single=True)
        return found[0] if found else Clarify(run_question("show the predictions of"), at=pronouns[0].end)
    if _PREDICTION.search(clause):
        return Clarify(run_question("show the predictions of next to each mask"))
    return None


def build_queue_review(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """queue_for_review: how many slices ("the top 20", "the 50 worst") and whose prediction is shown (run_id)."""
    run = _prediction_run(clause, refs, res)
    if isinstance(run, Clarify):
        return run
    rest = _blank(clause, [(ref.start, ref.end) for ref in refs])
    folder = _folder(rest, res, continues=True)
    if isinstance(folder, Clarify):
        return folder
    top_k = _count(rest, _TOP, BOUNDS["queue_for_review.top_k"])
    if isinstance(top_k, Clarify):
        return top_k
    args: dict[str, Any] = {} if top_k is None else {"top_k": top_k}
    if run is not None:
        args["run_id"] = run
    return [Step("queue_for_review", _with_dataset(args, folder))]


def build_review_status(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """review_status of the dataset named, else of the one the review loop works on."""
    if problem := _no_run("review_status", clause, refs, "reports on a dataset's review queue and takes no run"):
        return problem
    folder = _folder(clause, res, continues=True)
    if isinstance(folder, Clarify):
        return folder
    return [Step("review_status", _with_dataset({}, folder))]


def build_import_reviews(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """import_reviews of the dataset named, else of the one the review loop works on ("as a new dataset version"
    describes its result, not a folder)."""
    if problem := _no_run("import_reviews", clause, refs, "imports a dataset's finished reviews and takes no run"):
        return problem
    folder = _folder(clause, res, continues=True, output_phrase=True)
    if isinstance(folder, Clarify):
        return folder
    return [Step("import_reviews", _with_dataset({}, folder))]


ANNOTATION_BUILDERS: Final[dict[Intent, Builder]] = {
    "label_issues": build_label_issues, "queue_review": build_queue_review, "review_status": build_review_status,
    "import_reviews": build_import_reviews,
}  # fmt: skip
