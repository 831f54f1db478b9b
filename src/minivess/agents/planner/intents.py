"""What a clause asks for: help, a refusal, or one tool intent (checked in a fixed priority order)."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner import keyvalue
from minivess.agents.planner.intent_words import INTENTS, INTENTS_BY_NAME, Intent
from minivess.agents.planner.lexicon import families_in, param_in
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.slots import nii_paths
from minivess.agents.planner.sqlmap import canned_sql

# The uncertainty tools' intents: checked first (their words are specific), except that a request naming a NIfTI
# volume is a prediction ("segment v.nii.gz …, missing at most 5 % of vessels" → predict_volume with risk_fnr).
_UNCERTAINTY: Final = frozenset({"quality_gate", "soup", "conformal", "calibrate", "ensemble"})
# "compare the ensemble with …", "promote the soup", "evaluate the calibrated run": a result named, not a request.
_RESULT_NOUN: Final = re.compile(
    r"\b(?:the|that|this|its|our|my|new|same)\s+(?:new\s+|greedy\s+|weighted\s+|mean\s+|model\s+)?"
    r"(?:ensemble|soup|(?:re-?)?calibrated)\b(?!\s+(?:of|from)\b)",
    re.I,
)

_I: Final = re.I
_HELP: Final = re.compile(
    r"^(?:help|\?+|h|menu|commands?|usage|examples?|hi|hello|hey|start|get(?:ting)?\s+started)[\s.!?]*$"
    r"|\bwhat\s+can\s+(?:you|i)\s+(?:do|ask|say)\b|\bwhat\s+do\s+you\s+do\b"
    r"|\bwhat\s+are\s+(?:you(?:\s+able\s+to\s+do)?|your\s+(?:capabilities|tools|commands|skills))\s*\??$"
    r"|\bhow\s+(?:do\s+i|can\s+i|to|should\s+i)\s+use\s+(?:you|this|minivess|the\s+(?:agent|assistant|bot))\b"
    r"|\b(?:show|list|give)\s+(?:me\s+)?(?:the\s+|your\s+|some\s+)?(?:help|commands|examples|tools|capabilities)\b"
    r"|\bwhat\s+tools\b|^(?:please\s+)?help(?:\s+me)?(?:\s+please)?\s*[.!?]*$"
    r"|^i\s+need\s+help\b|\bwhat\s+(?:kind|sort)s?\s+of\s+(?:things|requests|questions)\b",
    _I,
)
_CANNOT: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (reason, re.compile(pattern, _I))
    for reason, pattern in (
        ("delete or modify runs, models or data (I only read runs and add new ones)",
         r"\b(?:delete|remove|erase|wipe|purge|destroy|drop|clean\s+up|rm|truncate|rename|archive)"
         r"\b(?!\s+(?:out|rate)\b).{0,60}\b(?:runs?|experiments?|models?|data(?:sets?)?|volumes?|tables?|"
         r"checkpoints?|registry|everything|all|files?|history)\b|^\s*(?:delete|update|insert|drop|alter)\b"),
        ("deploy or serve models (no deployment tools here; I can promote a run to champion)",
         r"\b(?:deploy\w*(?!.{0,60}\bto\s+(?:production|prod)\b(?!\s+(?:server|endpoint)))(?!\s+(?:run\s+)?(?:[0-9a-f]{6,32}\b|it\b|(?:the\s+)?(?:best|last|latest|newest)\b(?:\s+\w+)?|(?:that|this)\s+(?:run|model)\b)(?!.{0,40}\b(?:server|endpoint|cluster|kubernetes|k8s|docker|cloud)\b))|kubernetes|k8s|helm|sagemaker|serve\s+(?:it|the\s+model)|production\s+(?:server|endpoint)"
         r"|(?:rest|http)\s+(?:api|endpoint)|docker)\b"),
        ("reach the internet (no downloads or uploads; I work with local and synthetic data)",
         r"\b(?:download|fetch|scrape|pull|upload|push|publish|share)\b.{0,60}\b(?:real|dataset|data|minivess|internet"
         r"|web|hub|hugging\s*face|github|s3|cloud|drive|zenodo|weights|url)\b|https?://"),
        ("use the real MinIVess dataset (it is not available here; I can synthesize MinIVess-like data)",
         r"\breal\b.{0,25}\b(?:minivess|data(?:set)?|volumes?|images?)\b"),
        ("send messages (no email, Slack or notifications)",
         r"\b(?:e-?mail|mail\s+(?:me|it|them)|slack|sms|text\s+me|tweet|notify|ping\s+me|whatsapp|teams\s+message)\b"
         r"|\bsend\b(?!.{0,40}\bto\s+(?:the\s+|my\s+|our\s+)?(?:annotators?|labell?ers?|reviewers?|label[\s-]?studio)\b)"
         r".{0,40}\bto\b"),
        ("stop, cancel or resume runs (no tool for that; runs stop at their epoch or time budget)",
         # "train … but stop it after 15 minutes" is a time budget, not a stop
         r"^(?!.*\b(?:train|fit)\b.*\bstop\s+(?:it\s+)?(?:after|at|within|in)\s+(?:\d|an?\b|one\b|half\b))"
         r".*?\b(?:stop|cancel|abort|kill|pause|resume|interrupt)\b.{0,40}\b(?:runs?|training|jobs?|experiments?"
         r"|server|machine|it)\b|\bshut\s*down\b|\breboot\b"),
        ("open apps or user interfaces (I answer here in the chat; run `mlflow ui` yourself to browse runs)",
         r"\b(?:open|launch|start)\s+(?:the\s+)?(?:mlflow|ui|browser"
         r"|dashboard|notebook|jupyter|tensorboard|web\s*page|label[\s-]?studio)\b"),
        ("change code, install packages or administer the machine",
         r"\b(?:pip\s+install|install|upgrade|uninstall"
         r"|write\s+(?:me\s+)?(?:an?\s+)?(?:\w+\s+)?(?:code|script|function|program)"
         r"|(?:edit|modify|change|fix)\s+(?:the\s+)?(?:code|source|repo)|git\s+\w+|sudo)\b"),
        ("train language models or do unrelated tasks (I handle 3D vessel segmentation experiments)",
         r"\b(?:gpt|llm|language\s+model|chatbot|bert|llama|stable\s+diffusion|weather|recipe|poem|joke"
         r"|translate|buy)\b"),
        ("label or annotate volumes myself (a person corrects masks in Label Studio: I can find suspicious slices, "
         "queue them for review and import the corrections)",
         r"\b(?:annotate|hand[\s-]label|relabel|draw\s+(?:the\s+)?masks?)\b"),
    )
)  # fmt: skip
# Refusals that do not apply to the review loop: "send the 50 worst slices to Label Studio" sends no message and
# "push the suspicious slices of /data/x to the review queue" reaches no internet.
_REVIEW_LOOP: Final = re.compile(
    r"\blabel[\s-]?studio\b|\b(?:for|to)\s+(?:human\s+|manual\s+|expert\s+)?review\b|\b(?:review|annotation|labell?ing)\s+queue\b"
    r"|\breviewers?\b|\bqueue\w*\b.{0,60}\b(?:slices?|reviews?|annotat\w*)\b"
    r"|\b(?:corrected|reviewed|relabell?ed)\s+(?:masks?|labels?|annotations?|slices?|segmentations?)\b"
    r"|\b(?:finished|completed|done)\s+(?:reviews?|annotations?|corrections?)\b",
    _I,
)
_WAIVED_FOR_REVIEW: Final = ("send messages", "reach the internet", "label or annotate")
_QUESTION_TRAIN: Final = re.compile(
    r"\b(?:how\s+(?:many|long|much)|did|does|was|were|has|have|when)\b[^.?]*\btrain(?:ed|ing)?\b", _I
)
_DETAIL: Final = re.compile(
    r"\b(?:details?|info(?:rmation)?|status|params|parameters|config(?:uration)?|hyper[\s-]?param\w*|settings|tags"
    r"|tell\s+me\s+about|describe|look\s+up)\b",
    _I,
)
_SPLIT_SCORE: Final = re.compile(
    r"\b(?:test|val|validation|held[\s-]out)(?:[\s-]+(?:set|split))?\s+(?:performance|results?|scores?|metrics|dice"
    r"|cl[\s-]?dice|hd95|accuracy)\b",
    _I,
)
_TRAIN_OPTION: Final = re.compile(
    r"\bepochs?\b|\beps?\b|\blr\b|\blearning[\s-]+rate\b|\bbatch\b|\bpatch(?:es)?\b|\bminutes?\b|\bmins?\b|\bhours?\b"
    r"|\b\d+(?:\.\d+)?\s*(?:h|hrs?)\b"
    r"|\bseed\b|\b(?:max_minutes|batch_size|patch_size|register_as|loss|epochs|lr|seed|dataset)\s*=",
    _I,
)
_IMPERATIVE_TRAIN: Final = re.compile(r"^(?:please\s+)?(?:re-?)?train\b", _I)
# A ranking asked for as a list; without these words "the best swinunetr" names one run (get_run).
_RANKING: Final = re.compile(
    r"\bleader[\s-]?boards?\b|\brank\w*|\bstandings\b|\bscoreboard\b|\bruns\b|\bmodels\b|\bfamil(?:y|ies)\b"
    r"|\b(?:top|best|first)\s+\d+|\b\d+\s+(?:best|top)\b|\beach\b|\bper\b|\bsorted\b|\border\b",
    _I,
)


def _one_best_run(clause: str, refs: list[RunRef]) -> bool:
    """ "what's our top swinunetr by val dice": one best run of one family, not a ranking."""
    best = [ref for ref in refs if ref.kind == "best" and ref.value.split(":")[1:2] not in ([], [""])]
    return len(refs) == 1 and len(best) == 1 and not _RANKING.search(clause)


def has_train_option(text: str) -> bool:
    """True when ``text`` names a training option (epochs, lr, batch, patch, a budget, a seed …)."""
    return bool(_TRAIN_OPTION.search(text))


def is_help(text: str) -> bool:
    """True when the whole message asks what the assistant can do."""
    return bool(_HELP.search(text.strip()))


def cannot_reason(text: str) -> str | None:
    """Why the request is out of scope (a short phrase), or None when it is in scope."""
    review_loop = bool(_REVIEW_LOOP.search(text))
    for reason, pattern in _CANNOT:
        if pattern.search(text) and not (review_loop and reason.startswith(_WAIVED_FOR_REVIEW)):
            return reason
    return None


_TOOL_VERB: Final = re.compile(
    r"^\s*(?:(?:run|call|use|invoke)\s+)?(?P<tool>train_model|evaluate_run|predict_volume|promote_model|synthesize_data|dataset_info|leaderboard"
    r"|compare_runs|get_run|learning_curves|failure_summary|param_effect|query_runs|describe_warehouse"
    r"|calibrate_run|conformal_calibrate|build_ensemble|greedy_soup|quality_gate|find_label_issues|queue_for_review"
    r"|review_status|import_reviews|start_search|search_status|model_card|check_drift)\b",
    _I,
)
INTENT_OF_TOOL: Final[dict[str, Intent]] = {
    "train_model": "train", "evaluate_run": "evaluate", "predict_volume": "predict", "promote_model": "promote",
    "synthesize_data": "synthesize", "dataset_info": "dataset_info", "leaderboard": "leaderboard",
    "compare_runs": "compare", "get_run": "get_run", "learning_curves": "curves", "failure_summary": "failures",
    "param_effect": "param_effect", "query_runs": "sql", "describe_warehouse": "describe_warehouse",
    "calibrate_run": "calibrate", "conformal_calibrate": "conformal", "build_ensemble": "ensemble",
    "greedy_soup": "soup", "quality_gate": "quality_gate", "find_label_issues": "label_issues",
    "queue_for_review": "queue_review", "review_status": "review_status", "import_reviews": "import_reviews",
    "start_search": "start_search", "search_status": "search_status", "model_card": "model_card",
    "check_drift": "check_drift",
}  # fmt: skip
TOOL_OF_INTENT: Final[dict[Intent, str]] = {intent: tool for tool, intent in INTENT_OF_TOOL.items()} | {
    "registry": "query_runs"
}
_RUN_KINDS: Final = frozenset({"id", "last", "pronoun", "alias", "label"})
_DESCRIBE_DATA: Final = re.compile(
    r"\bdataset\s+(?:info|summary|details|stats)\b|\b(?:info|details|stats|statistics)\s+(?:on|for|about|of)\b", _I
)
_SEGMENT_VERB: Final = re.compile(r"\b(?:segment|predict|infer|run\s+inference)\b", _I)
_CONFORMAL_WORD: Final = re.compile(r"\bconformal\w*|\bthreshold\b|\bcalibrat\w*", _I)
_WHICH_RUN: Final = re.compile(r"\b(?:which|what)\s+(?:run|model|checkpoint)\b", _I)
_PROMOTE_WORD: Final = re.compile(
    r"\b(?:promot\w*|register\w*|crown|designate|becomes?|make\s+it|alias|deploy|production|prod)\b", _I
)
_REGISTER_CHECKPOINT: Final = re.compile(
    r"\bregister\s+(?:the\s+|its\s+)?(?:best\s+|final\s+)?(?:checkpoint|weights|model)\s+(?:as|under)\b", _I
)
# "trainer.batch_size vs val_dice": a dotted parameter against a metric key
_PARAM_VS_METRIC: Final = re.compile(r"\b[a-z]+\.[a-z_]+\s+(?:vs\.?|versus|against)\s+(?:val|test|train)_\w+", _I)
_TRAINED: Final = re.compile(r"\btrain(?:ed|ing)?\b", _I)
_PROMOTE_VERB: Final = re.compile(r"^\s*(?:please\s+)?(?:promote|register|make|set|crown|tag|mark)\b", _I)


def _only_overfit(pattern: re.Pattern[str], clause: str) -> bool:
    """True when the curves pattern matched only the word "overfit" (a reason given, not a plot asked for)."""
    return all(match.group(0).lower().startswith("overfit") for match in pattern.finditer(clause))


def _names_a_result(pattern: re.Pattern[str], clause: str) -> bool:
    """True when every match of an uncertainty intent's pattern is a result named ("the ensemble")."""
    nouns = [match.span() for match in _RESULT_NOUN.finditer(clause)]
    return bool(nouns) and all(
        any(start <= match.start() and match.end() <= end for start, end in nouns) for match in pattern.finditer(clause)
    )


# A drift word asks for check_drift only about data (a folder, "data", "it" …), and not inside a request to make
# data, to compare or plot runs, or to train on it.
_ABOUT_DATA_DRIFT: Final = re.compile(
    r"[/~]|\b(?:data|datasets?|sets?|volumes?|scans?|images?|batch\w*|folders?|distribution|covariate|domain|it|this|that"
    r"|check\w*|tests?|reports?|current|reference)\b|\btrained\s+on\b",
    _I,
)
_NOT_DATA_DRIFT: Final = re.compile(
    r"\b(?:generate|synthesi[sz]e|simulate|create|make|produce)\b.{0,60}\b(?:volumes?|datasets?|data|images?)\b"
    r"|\bruns\s+(?:[0-9a-f]{6,}|last|best)|\b(?:learning\s+)?curves?\b|\b(?:loss|dice|cldice|metrics?|lr)\s+drift"
    r"|\bneed\b.{0,40}\bsynthetic\b",  # "for the drift demo I need 16 domain-shifted synthetic volumes"
    _I,
)


# "which model family gives the best hd95 on average": the parameter's effect, not one average over all runs
_WHICH_ON_AVERAGE: Final = re.compile(
    r"\bwhich\s+(?:model\s+)?(?:family|architecture|loss|learning\s+rate|lr|batch\s+size|patch\s+size)\b.{0,40}"
    r"\b(?:on\s+average|averaged)\b",
    _I,
)


_WHICH_RANKS: Final = re.compile(
    r"\bwhich\s+(?:model\s+)?(?:famil(?:y|ies)|architectures?|models?|runs?)\b.{0,40}\b(?:lowest|highest|best|worst|top)\b",
    re.I,
)


_NO_CALIBRATION: Final = re.compile(
    r"\b(?:without|no|don'?t|do\s+not|skip(?:ping)?|never)\s+(?:any\s+)?(?:re-?)?"
    r"(?:calibrat\w*|temp(?:erature)?[\s-]*scal\w*)",
    re.I,
)
_TEST_SPLIT: Final = re.compile(r"\b(?:test|held[\s-]out|train(?:ing)?)\b", re.I)


def classify(clause: str, refs: list[RunRef]) -> Intent | None:
    """The clause's intent, by priority; canned SQL questions rank just above failures."""
    if named := _TOOL_VERB.match(clause):  # "param_effect param=loss.name": the tool's own name
        return INTENT_OF_TOOL[named.group("tool").lower()]
    kinds = {ref.kind for ref in refs}
    deferred: Intent | None = None  # an uncertainty word that only names a result: used if nothing else fits
    for intent, pattern in INTENTS:
        if intent == "failures" and canned_sql(clause):
            return "param_effect" if _WHICH_ON_AVERAGE.search(clause) and param_in(clause) else "sql"
        if intent == "failures" and "ordinal" in kinds and pattern.search(clause):
            return "get_run"  # "show me everything about the first failed run": one run of the failures shown
        if not pattern.search(clause):
            continue
        if intent in _UNCERTAINTY and nii_paths(clause)[0]:
            continue
        if intent == "conformal" and _SEGMENT_VERB.search(clause) and not _CONFORMAL_WORD.search(clause):
            continue  # "segment a volume with the best segresnet, fnr at most 5 %": predict_volume, which asks
        if intent in _UNCERTAINTY and _names_a_result(pattern, clause):
            deferred = deferred or intent
            continue
        if intent == "train" and _QUESTION_TRAIN.search(clause) and not _IMPERATIVE_TRAIN.search(clause):
            continue
        if intent == "synthesize" and (families_in(clause) or _DESCRIBE_DATA.search(clause)):
            continue
        if intent == "calibrate" and _NO_CALIBRATION.search(clause):
            continue  # "evaluate the last run on test without temp scaling"
        if intent == "check_drift" and (not _ABOUT_DATA_DRIFT.search(clause) or _NOT_DATA_DRIFT.search(clause)):
            continue  # "did the loss drift", "generate volumes with intensity drift": another tool's request
        if intent == "param_effect" and param_in(clause) is None:
            if len(refs) >= 2:
                return "compare"
            continue
        if (
            intent == "compare"
            and len(refs) < 2
            and param_in(clause)
            and (INTENTS_BY_NAME["param_effect"].search(clause) or _PARAM_VS_METRIC.search(clause))
        ):
            return "param_effect"  # "is the clDice loss worth it compared to dice_ce?", "optim.lr vs val_dice"
        if intent == "evaluate" and not kinds and _WHICH_RANKS.search(clause) and not _TEST_SPLIT.search(clause):
            return "leaderboard"  # "which family gets the lowest HD95 on validation?": the logged val metrics rank
        if intent == "get_run" and kinds & (_RUN_KINDS | {"best"}) and _SPLIT_SCORE.search(clause):
            return "evaluate"
        if intent == "get_run" and families_in(clause) and _TRAIN_OPTION.search(clause) and not _DETAIL.search(clause):
            continue  # "segresnet training, 60 epochs, cap it at 1.5 h"
        if intent == "get_run" and not (kinds & _RUN_KINDS or "ordinal" in kinds or (kinds and _DETAIL.search(clause))):
            if _one_best_run(clause, refs):
                return "get_run"
            continue
        if intent == "leaderboard" and _one_best_run(clause, refs):
            return "get_run"
        if intent == "curves" and _only_overfit(pattern, clause) and INTENTS_BY_NAME["evaluate"].search(clause):
            return "evaluate"  # "score the champion on the training split, I want to see whether it overfits"
        if intent == "registry" and _DETAIL.search(clause) and "alias" in kinds:
            return "get_run"  # "what hyperparameters did the champion use?": that run's details
        if (
            intent == "promote"
            and _REGISTER_CHECKPOINT.search(clause)
            and _TRAINED.search(clause)
            and families_in(clause)
        ):
            return "train"  # "a segresnet trained for 12 epochs; register the best checkpoint as lab-seg": register_as
        if intent == "promote" and INTENTS_BY_NAME["compare"].search(clause) and not _PROMOTE_WORD.search(clause):
            continue  # "and compare it to the challenger on val_cldice": a comparison, not a promotion
        if intent == "registry" and _PROMOTE_VERB.match(clause):
            continue  # "register run 0d9c8b7a as champion of the registered model vessels-prod"
        if intent == "registry" and _WHICH_RUN.search(clause) and [ref.kind for ref in refs] == ["alias"]:
            return "get_run"  # "which run is the champion": that one run, with its details
        return intent
    if canned_sql(clause):
        return "sql"
    if deferred is not None:
        return deferred
    if families_in(clause) and _TRAIN_OPTION.search(clause):
        return "train"  # "a swinunetr with clDice, 2 epochs": a family plus training options
    if tool := keyvalue.only_tool(clause):
        return INTENT_OF_TOOL.get(tool)  # "preset=minivess n=24": only synthesize_data has both arguments
    return None
