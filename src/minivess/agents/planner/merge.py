"""Clauses that add to the step before them instead of planning one of their own: "…, give it 1.5h", "…;
mask -> m.nii.gz", "and another for 5 epochs", "…, 25 epochs each"."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner import risk
from minivess.agents.planner.accounting import check_values
from minivess.agents.planner.bounds import BOUNDS
from minivess.agents.planner.dispatch import BUILDERS
from minivess.agents.planner.intents import INTENT_OF_TOOL, has_train_option
from minivess.agents.planner.lexicon import NUM, families_in, parse_number
from minivess.agents.planner.models import Clarify, Step
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.slots import directories, model_name, nii_paths
from minivess.agents.planner.training import train_options

_REGISTER_ONLY: Final = re.compile(r"\bregister", re.I)
_ALIAS_WORD: Final = re.compile(r"\b(?:champion|challenger)\b", re.I)


def merge_train_options(body: str, steps: list[Step], refs: list[RunRef]) -> bool | Clarify:
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


def another_training(body: str, steps: list[Step], refs: list[RunRef]) -> Step | Clarify | None:
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
        shared = train_options(each.group("options"))  # "…, 25 epochs each": this one and the one it repeats
        if isinstance(shared, dict):
            steps[-1].args.update({key: value for key, value in shared.items() if key not in steps[-1].args})
    return problem or step


_EACH: Final = re.compile(r"(?:^|,|\band\b)\s*(?P<options>[^,;]+?)\s+(?:each|for\s+both|both)\s*[.!]?$", re.I)


_OPTION_TOOLS: Final = frozenset({"find_label_issues", "start_search"})


def merge_tool_options(body: str, steps: list[Step], refs: list[RunRef], resolver: RefResolver) -> bool | Clarify:
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
    built = BUILDERS[INTENT_OF_TOOL[steps[-1].tool]](body, refs, resolver)
    if isinstance(built, Clarify):
        return built
    options = {key: value for key, value in built[0].args.items() if key != "dataset" or directories(body)}
    if not options:
        return False
    if problem := check_values(body, [Step(steps[-1].tool, dict(options))], refs):
        return problem
    steps[-1].args.update(options)
    return True


_ROWS_ONLY: Final = re.compile(
    rf"(?:(?:and|but|just|please)\s+)?(?:give|show|list|return)\s+(?:me\s+)?(?:the\s+)?(?:top\s+|first\s+)?(?P<n>{NUM})"
    r"(?:\s+(?:rows|entries|runs|results|lines))?(?:\s+instead)?(?:,?\s+please)?\s*[.!?]*",
    re.I,
)
_ROW_ARGUMENT: Final = {"leaderboard": "limit", "query_runs": "max_rows"}


def merge_row_limit(body: str, steps: list[Step]) -> bool | Clarify:
    """ "ranking by val_dice, give me twenty rows": the row count of the table just planned (asked when out of
    the tool's range)."""
    match = _ROWS_ONLY.fullmatch(body.strip())
    key = _ROW_ARGUMENT.get(steps[-1].tool) if steps else None
    value = parse_number(match.group("n")) if match else None
    if key is None or value is None or value != int(value):
        return False
    bound = BOUNDS[f"{steps[-1].tool}.{key}"]
    if not bound.allows(value):
        return Clarify(bound.question(f"{value:g}"), number_only=True)
    steps[-1].args[key] = int(value)
    return True


_FOR_PREDICTIONS: Final = re.compile(r"\bpredictions?\b|\bmodel\b", re.I)


def merge_drift_model(body: str, steps: list[Step], refs: list[RunRef], resolver: RefResolver) -> bool:
    """ "is data/new different from data/old? use run 77ab12cd for the predictions": that check's model."""
    if not steps or steps[-1].tool != "check_drift" or "model" in steps[-1].args or not _FOR_PREDICTIONS.search(body):
        return False
    runs = resolver.resolve([ref for ref in refs if ref.kind != "pronoun"], single=True)
    if not runs:
        return False
    steps[-1].args["model"] = runs[0]
    return True


_CONFORMAL_MASK: Final = re.compile(r"\bconformal\s+(?:mask|segmentation|prediction|output)s?\b", re.I)


def merge_risk(body: str, steps: list[Step], refs: list[RunRef]) -> bool:
    """ "segment v.nii.gz with the challenger; I can live with losing 8 % of the vessels": that prediction's risk."""
    named = [ref for ref in refs if ref.kind != "pronoun"]  # "…, and it must not miss more than 5 %": "it" is it
    if not steps or steps[-1].tool != "predict_volume" or "risk_fnr" in steps[-1].args or named:
        return False
    if re.search(r"\bconformal\w*|\bthreshold\b|\bcalibrat\w*", body, re.I) and not _CONFORMAL_MASK.search(body):
        return False  # "…; and give me the conformal mask that misses at most 10 %" is that prediction's risk
    value = risk.fnr_value(body, "The tolerated share of missed vessel voxels (risk_fnr)")
    if not isinstance(value, float):
        return False
    steps[-1].args["risk_fnr"] = value
    return True


def merge_register(body: str, steps: list[Step]) -> bool:
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


def merge_outputs(body: str, steps: list[Step]) -> bool:
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


_BESIDE: Final = re.compile(r"\bpredictions?\b.{0,40}\b(?:next\s+to|alongside|beside|on\s+top\s+of)\b", re.I)


def merge_queue_predictions(body: str, steps: list[Step], refs: list[RunRef], resolver: RefResolver) -> bool:
    """ "queue 25 slices for the annotators and show the last run's prediction next to each": the run whose
    predictions the queue shows, not a prediction of a volume."""
    if not steps or steps[-1].tool != "queue_for_review" or not _BESIDE.search(body):
        return False
    if nii_paths(body)[0] or directories(body):
        return False  # "…, then run predictions with the champion on data/new": a prediction of its own
    runs = resolver.resolve(refs, single=True) if refs else []
    if not runs:
        return False
    steps[-1].args["run_id"] = runs[0]
    return True


def merge_uncertainty(body: str, steps: list[Step]) -> bool:
    """ "segment v.nii.gz with it and save an uncertainty map to u.nii.gz": the map belongs to that prediction."""
    output = risk.uncertainty_output(body)
    if output is None or output.path is None or not steps or steps[-1].tool != "predict_volume":
        return False
    if "uncertainty_path" in steps[-1].args or nii_paths(risk.without_span(body, output.start, output.end))[0]:
        return False
    before = dict(steps[-1].args)
    steps[-1].args["uncertainty_path"] = output.path
    merge_risk(body, steps, [])  # "…the conformal mask that misses at most 10 %, and an entropy map to u.nii.gz"
    if check_values(body, [steps[-1]], []) is not None:
        steps[-1].args = before  # a value the merge would drop: the clause is planned (and asked about) alone
        return False
    return True
