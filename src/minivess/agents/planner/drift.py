"""Builder for the drift check: the new dataset, the reference it is compared with, and whose training data that is.

"has data/new drifted from data/train?", "check data/batch2 for drift against the champion's training data",
"drift between data/old and data/new": the current dataset is a folder named (or the one this plan made or looked
at, for "it"); the reference is the folder after "against / vs / from / with / to / relative to", else the
training data of the model named (champion by default); a model named beside a reference folder is the one whose
predictions are compared. Two folders with no cue read as "old, new". A third folder, or none, gets a question:
a path the check cannot use is never dropped.
"""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner import slots
from minivess.agents.planner.builders import Builder, Built
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.models import Clarify, Step, StepOutput
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver

_REFERENCE_CUE: Final = re.compile(
    r"\b(?:against|vs\.?|versus|from|compared\s+(?:to|with)|with|to|relative\s+to|reference(?:\s+dataset)?|baseline|than"
    r"|with\s+respect\s+to)\s+(?:the\s+)?(?:data(?:set)?\s+(?:at|in)\s+)?['\"`]?$",
    re.I,
)
_MODEL_KINDS: Final = frozenset({"id", "alias", "best", "last", "previous"})
_IT: Final = re.compile(
    r"\b(?:it|they|them|that\s+(?:data(?:set)?|folder|batch)|this\s+(?:data(?:set)?|folder|batch)|that|this|those|these)\b",
    re.I,
)
_NO_DATASET: Final = (
    "Which dataset should I check for drift? Give its folder (raw/ + seg/, e.g. data/new-batch); I compare it with "
    "the champion's training data unless you name a reference folder."
)
_TOO_MANY: Final = (
    "I compare two datasets, but you named {n} folders ({paths}). Which one is the new dataset and which the reference?"
)


def build_check_drift(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """check_drift of the folder named (or 'it') against the folder after a reference cue, else a model's data."""
    found = slots.directories(clause)
    if len(found) > 2:
        return Clarify(_TOO_MANY.format(n=len(found), paths=", ".join(path for path, _ in found)))
    models = [ref for ref in refs if ref.kind in _MODEL_KINDS]  # "it" is the dataset here, not a run
    args: dict[str, Any] = {}
    if models:
        values = res.resolve(models, single=True)
        if values and values[0] != "champion":
            args["model"] = values[0]
    named, reference = _current_and_reference(clause, found)
    if reference is None and _SAME_REFERENCE.search(clause):
        earlier = res.last_args.get("check_drift", {}).get("reference")
        reference = earlier if isinstance(earlier, str) else None  # "… against the same reference"
    bare_reference = None
    if reference is None and (bare := _BARE_REFERENCE.search(clause)) and bare.group(1).lower() not in _NOT_REFERENCES:
        reference = bare_reference = bare.group(1)  # "check it for drift against synthetic": under the data dir
    # "compare shift_test against pilot40 for drift": both names, when no folder was named
    pair = _BARE_PAIR.search(clause) if named is None and reference == bare_reference else None
    if pair and not {pair.group(1).lower(), pair.group(2).lower()} & (_NOT_FOLDERS | _NOT_REFERENCES):
        named, reference = pair.group(1), pair.group(2)  # "compare shift_test against pilot40 for drift"
    # "is the corrected set drifted vs the original?": the version the import made
    reviewed = res.reviewed if named is None and slots.reviewed_dataset(clause) else None
    current = named if named is not None else reviewed or _pronoun_dataset(clause, res) or _made_by_name(clause, res)
    if (
        current is None
        and (bare := _BARE_FOLDER.search(clause))
        and (bare.group(1) or bare.group(2) or bare.group(3) or bare.group(4)).lower() not in _NOT_FOLDERS
    ):
        # "check new_acquisitions for distribution shift": a folder under the data dir
        current = bare.group(1) or bare.group(2) or bare.group(3) or bare.group(4)
    if current is None:
        return Clarify(_NO_DATASET)
    return [Step("check_drift", {"current": current, **({"reference": reference} if reference else {}), **args})]


def _current_and_reference(clause: str, found: list[tuple[str, int]]) -> tuple[str | None, str | None]:
    cued = [path for path, start in found if _REFERENCE_CUE.search(clause[max(0, start - 32) : start])]
    plain = [path for path, _ in found if path not in cued]
    if len(found) == 2 and len(cued) == 1:
        return plain[0], cued[0]
    if len(found) == 2:
        return found[1][0], found[0][0]  # "drift between data/old and data/new"
    if len(found) == 1:
        return (None, cued[0]) if cued else (plain[0], None)
    return None, None


_SAME_REFERENCE: Final = re.compile(r"\bsame\s+(?:reference|baseline)\b", re.I)
_BARE_FOLDER: Final = re.compile(
    r"\b(?:check|test|scan|examine|inspect)\s+['\"`]?([A-Za-z0-9][\w.-]*)['\"`]?\s+for\s+(?:any\s+)?"
    r"(?:(?:data|distribution|covariate|domain|dataset)\s+)?(?:shift|drift)\b"
    # "has the drift_test dataset drifted relative to …"
    r"|\b(?:has|have|did|is)\s+(?:the\s+)?['\"`]?([A-Za-z0-9][\w.-]*)['\"`]?\s+(?:dataset|data|set|folder)\s+"
    r"(?:drifted|drift|shifted)\b"
    # "has scope2_march drifted away from …": a name with _ - or digits
    r"|\b(?:has|have|did|is)\s+['\"`]?((?=[\w.-]*[_\d-])[A-Za-z0-9][\w.-]*)['\"`]?\s+(?:drifted|drift|shifted)\b"
    # "drift check new_site using the challenger's predictions": a folder name with _ - or digits
    r"|\bdrift[\s-]?check\s+(?:on\s+|of\s+|for\s+)?(?:the\s+)?['\"`]?((?=[\w.-]*[_\d-])[A-Za-z0-9][\w.-]*)['\"`]?",
    re.I,
)
_BARE_REFERENCE: Final = re.compile(
    r"\b(?:against|versus|vs\.?|compared\s+(?:to|with)|relative\s+to|from)\s+(?:the\s+)?"
    r"(?:(?:plain|original|default|usual|standard|clean)\s+)?['\"`]?([A-Za-z][\w.-]*)['\"`]?"
    r"(?:\s+(?:data(?:set)?|set|folder|one))?(?=\s*[.!?,;]?\s*$|\s*[,;]|\s+(?:for|using|with|and|then|by|on)\b)",
    re.I,
)
_BARE_PAIR: Final = re.compile(
    r"\b(?:compare|check|test)\s+['\"`]?([A-Za-z][\w.-]*)['\"`]?\s+(?:against|vs\.?|versus|with|to)\s+"
    r"['\"`]?([A-Za-z][\w.-]*)['\"`]?\s+(?:for|re|regarding|in\s+terms\s+of)\b",
    re.I,
)
_NOT_REFERENCES: Final = frozenset(
    {"champion", "challenger", "best", "last", "latest", "training", "train", "reference", "baseline", "model",
     "its", "their", "our", "my", "original", "old", "previous", "same", "one", "other", "yesterday", "today",
     "before", "earlier", "everything", "anything", "it", "that", "this", "them", "those", "these", "what", "where",
     "whatever", "we", "how", "now", "here", "there", "scratch", "both", "all", "start", "beginning", "then",
     "tomorrow", "january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
)  # fmt: skip
_NOT_FOLDERS: Final = frozenset(
    {
        "it",
        "them",
        "this",
        "that",
        "these",
        "those",
        "data",
        "dataset",
        "datasets",
        "volumes",
        "everything",
        "all",
        "the",
        "a",
        "an",
        "our",
        "my",
        "new",
        "current",
        "your",
    }
)


def _made_by_name(clause: str, res: RefResolver) -> StepOutput | None:
    """ "synthesize … name it shift8, then check shift8 for drift": the folder that step writes."""
    name = res.made_name
    if res.made is None or not name or not re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/.-])", clause):
        return None
    return StepOutput(res.made, "path")


def _pronoun_dataset(clause: str, res: RefResolver) -> str | StepOutput | None:
    if not _IT.search(clause):
        return None
    if res.dataset is not None:
        return res.dataset
    if res.made is not None:
        return StepOutput(res.made, "path")
    return None


DRIFT_BUILDERS: Final[dict[Intent, Builder]] = {"check_drift": build_check_drift}
