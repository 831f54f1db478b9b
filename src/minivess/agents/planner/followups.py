"""Follow-ups: clauses whose tool or values come from the previous step or turn ("retry that with bs=1",
"do the same for F", "now the challenger's", "how is that going?")."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner import keyvalue
from minivess.agents.planner.accounting import check_values
from minivess.agents.planner.clauses import VERB_ON_IT
from minivess.agents.planner.dispatch import BUILDERS
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.intents import INTENT_OF_TOOL, TOOL_OF_INTENT, classify
from minivess.agents.planner.lexicon import METRIC_ALT, NUMBER_WORDS, families_in, metrics_in, param_in
from minivess.agents.planner.models import Clarify, Step
from minivess.agents.planner.refs import RunRef, run_refs
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.slots import directories, nii_paths
from minivess.agents.planner.training import AGAIN

# Intents a clause without its own verb may continue ("train segresnet, then swinunetr").
_INHERITABLE: Final = frozenset(
    {"train", "evaluate", "compare", "curves", "predict", "get_run", "leaderboard", "calibrate", "conformal",
     "ensemble", "soup", "quality_gate"}
)  # fmt: skip
_FOLDER_INTENTS: Final = frozenset({"check_drift", "dataset_info", "label_issues", "review_status"})
_SPLIT_WORD: Final = re.compile(r"\b(?:val(?:idation)?|test|train(?:ing)?)\b", re.I)
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


_SEARCH_FOLLOW: Final = re.compile(
    r"\b(?:status|progress|finished|done|over|complete|running|going|how(?:\s+is|\s*'s)\s+it|news|trials?)\b", re.I
)
_SAME_FOR: Final = re.compile(
    r"^(?:and\s+|now\s+|then\s+)?(?:(?:do\s+)?(?:the\s+)?same(?:\s+thing)?(?:\s+again)?|likewise|ditto|again)\s+"
    r"(?:for|with|on)\b",
    re.I,
)


_LOOK_AGAIN: Final = re.compile(
    r"^(?:(?:and|ok|now)\s+)?(?:check|look|ask)(?:\s+(?:it|that|on\s+(?:it|that|the)(?:\s+(?:search|sweep|review))?))?\s+again\b|^(?:and\s+)?(?:now|again)\s*\??$",
    re.I,
)
_STATUS_OF: Final[dict[Intent | None, Intent]] = {
    "start_search": "search_status", "search_status": "search_status",
    "queue_review": "review_status", "review_status": "review_status",
}  # fmt: skip
_DONE_YET: Final = re.compile(r"\b(?:done|finished|complete[d]?|reviewed|corrected)\b", re.I)
_STATUS_LIKE: Final = frozenset({None, "search_status", "start_search", "leaderboard", "get_run", "review_status"})
_SEARCH_BEST: Final = re.compile(
    r"\bbest\s+(?:one\s+|trial\s+|score\s+)?(?:so\s+far|yet)\b|\bwho(?:'s|\s+is)\s+winning\b",
    re.I,
)


def search_followup(previous: Intent | None, body: str, refs: list[RunRef]) -> Intent | None:
    """ "…, then tell me its status", "is it finished yet?" right after a search: that search's status ("any news
    from the sweep? trials done, best so far": its status answers each)."""
    if previous in ("start_search", "search_status") and _SEARCH_BEST.search(body):
        return "search_status"
    if _LOOK_AGAIN.match(body) and previous in _STATUS_OF:
        return _STATUS_OF[previous]  # "check again" right after a status answer: that status, now
    if classify(body, refs) not in _STATUS_LIKE:
        return None  # "run the test-split eval on the winning trial of that sweep": a request about its run
    if not _SEARCH_FOLLOW.search(body) or not all(ref.kind in ("pronoun", "plural") for ref in refs):
        return None
    if previous in ("start_search", "search_status"):
        return "search_status"  # "is it done?", "what's going on?" right after a search
    if previous in ("queue_review", "review_status") and (_HOW_GOING.search(body) or _DONE_YET.search(body)):
        return "review_status"  # "how is that going?", "how many of those are done?" right after queueing slices
    return None


_HOW_GOING: Final = re.compile(
    r"\bhow(?:\s+is|\s*'s|\s+are)\s+(?:it|that|this|they|things)\b.{0,20}\b(?:going|coming|progressing)\b"
    r"|^(?:any\s+)?(?:progress|news|updates?)\s*[?.!]?$|^what(?:'s|\s+is)\s+(?:going\s+on|happening)\b",
    re.I,
)


def same_for(previous: Intent | None, body: str) -> Intent | None:
    """ "and the same for the challenger": the previous request's tool, on what this clause names."""
    return previous if previous is not None and _SAME_FOR.search(body) else None


# "and at 2%?", "same but overall, top 3", "what about the learning rate?": the previous tool, with what changed
_ELLIPSIS: Final = re.compile(
    r"^(?:and|but|now|same\s+(?:thing\s+)?but|(?:and\s+)?(?:what|how)\s+about|(?:do\s+)?the\s+same\s+(?:thing\s+)?for)\b"
    r"(?!\s+(?:then|also|train|show|plot|compare|evaluate|promote|segment|generate|synthesi[sz]e)\b)",
    re.I,
)
# "now the challenger's" ("now" stripped): the same, for the run named (a possessive of anything else is not one)
_POSSESSIVE: Final = re.compile(r"^(?:the\s+)?(?:[\w:-]+\s+)?[\w-]+'s\s*[?.!]?$", re.I)


def follow_up(
    body: str, previous: Intent | None, resolver: RefResolver, refs: list[RunRef], steps: list[Step]
) -> list[Step] | None:
    """An elliptic follow-up of the previous step's tool (this request's, else the previous turn's): its builder
    reads what this clause changes, and the arguments the clause does not name are kept from that earlier call;
    None when the clause is not one. Not for training, whose repeats ("again with seed 2") have their own rule."""
    tool = steps[-1].tool if steps else TOOL_OF_INTENT.get(previous) if previous is not None else None
    intent = INTENT_OF_TOOL.get(tool or "")
    elliptic = _ELLIPSIS.search(body) or (_POSSESSIVE.match(body) and any(ref.kind != "pronoun" for ref in refs))
    if tool in (None, "train_model") or intent not in BUILDERS or not elliptic:
        return None
    earlier = steps[-1].args if steps else resolver.last_args.get(tool or "")
    if earlier is None:
        return None
    built = BUILDERS[intent](body, refs, resolver)
    if isinstance(built, Clarify) or len(built) != 1 or built[0].tool != tool:
        return None
    args = {**built[0].args, **keyvalue.tool_values(body, tool)}  # "… again but with split=train"
    if "metric" in args and "metric" in earlier and not metrics_in(body):
        args["metric"] = earlier["metric"]  # the builder's default metric, not one the user named
    if "run_id" in args and earlier.get("run_id") not in (None, "last", "latest") and not refs:
        args["run_id"] = earlier["run_id"]  # "do the same for b.nii.gz" with the champion: the champion again
    on = _ON_METRIC.search(body) if tool == "param_effect" else None
    if on is not None and (named := metrics_in(on.group("m"))):
        # "effect of loss on dice" → "and what about on cldice?": the metric changes; "cldice" is no parameter here
        rest = body[: on.start("m")] + body[on.end("m") :]
        args["metric"] = named[0]
        if param_in(rest) is None and isinstance(earlier.get("param"), str):
            args["param"] = earlier["param"]
    kept = {key: value for key, value in earlier.items() if key not in args}
    step = Step(tool, {**kept, **args})
    return None if check_values(body, [step], refs) else [step]


_ON_METRIC: Final = re.compile(
    rf"\b(?:on|by|for|in\s+terms\s+of)\s+(?:the\s+)?(?P<m>(?:(?:val(?:idation)?|test)[\s_]*)?(?:{METRIC_ALT}))\b", re.I
)
_CONTEXT: Final = re.compile(r"^(?:before|until|so\s+that|while)\s+(?:i|we)\b", re.I)


def context_clause(body: str, resolver: RefResolver) -> bool:
    """ "before I predict on ~/2p/batch9, check whether it drifted from ~/2p/batch1": what the user will do next is
    context, not a request (when a request follows); the one folder it names is what "it" means after it."""
    if not _CONTEXT.match(body):
        return False
    found = directories(body)
    if len(found) == 1:
        resolver.dataset = found[0][0]
    return True


# "Maria has time this afternoon, give her …", "we hired two student annotators, queue 60 …": who is around or what
# happened, said before the request; a subject and a verb of having or being, no tool's words and no value
_SITUATION: Final = re.compile(
    r"^(?:(?i:i|we|they|she|he|(?:our|my)\s+\w+|the\s+(?:team|lab|annotators?|reviewers?))|[A-Z][a-z]+)\s+"
    r"(?i:(?:just\s+|finally\s+)?(?:has|have|had|hired|got|am|are|is|was|were|will\s+be))\b"
)


_SITUATION_VALUE: Final = re.compile(
    rf"\b(?:{NUMBER_WORDS}|val|validation|test|train|training|split|loss|percent|hours?|minutes?|epochs?|folds?|slices?"
    r"|volumes?|runs?|gpus?|budget|called|named|dataset|folder|batch)\b",
    re.I,
)


_PEOPLE: Final = re.compile(
    rf"\b(?:{NUMBER_WORDS})\s+(?:[a-z]+\s+)?(?:reviewers?|annotators?|students?|people|colleagues|interns|labell?ers?)\b",
    re.I,
)


def situation_clause(body: str, refs: list[RunRef]) -> bool:
    """A statement before the request that asks for nothing: plain lower-case words after its subject, and none of
    them a value (a number in words, a metric, a split, a unit, a name introduced by "called")."""
    words = body.split()[1:]
    plain = all(re.fullmatch(r"[a-z]+(?:'[a-z]+)?[,.!]?", word) for word in words)  # "she's", not "'fast'"
    return bool(
        _SITUATION.match(body)
        and plain
        and all(ref.kind == "pronoun" for ref in refs)  # "my annotators have been at it all week"
        and not families_in(body)
        and not metrics_in(body)
        and not _SITUATION_VALUE.search(_PEOPLE.sub("", body))  # "we hired two annotators": who, not a value
    )


def dataset_followup(previous: Intent | None, body: str) -> Intent | None:
    """ "generate a shifted dataset …, then show its info": "its" is the dataset, not a run."""
    return "dataset_info" if previous in ("synthesize", "dataset_info") and _ITS_INFO.search(body) else None


# "zap it", "archive them": a verb of its own on "it" is no verbless follow-up of the step before (asked about)
_OWN_VERB: Final = re.compile(rf"^(?:and\s+)?{VERB_ON_IT}", re.I)


_OF_PARAM_ON: Final = re.compile(r"^(?:and\s+)?(?:that\s+)?(?:of|for)\s+\S+\s+on\s+\S+", re.I)


def inherit(previous: Intent | None, body: str) -> Intent | None:
    if _OWN_VERB.match(body):
        return None
    if previous == "param_effect" and _OF_PARAM_ON.match(body):
        return previous  # "effect of loss.name on val_cldice and of optim.lr on val_dice"
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


def retry(body: str, resolver: RefResolver) -> Intent | None:
    """ "that crashed — try again with batch size 1": a retry of the last training wins over "crashed"."""
    return "train" if resolver.last_train is not None and _RETRY.search(body) else None


def repeat(body: str, resolver: RefResolver) -> Intent | None:
    """ "same thing but with lr 5e-4": a training like the last one."""
    return "train" if resolver.last_train is not None and AGAIN.search(body) else None
