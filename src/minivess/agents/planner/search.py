"""Builders for model search: start one (budget, trials, epochs per trial, families, dataset) or read its status.

Every value is accounted for: a trial count or budget outside the tool's range gets a question naming the limit;
with none written the tool's defaults apply (12 trials, 30 minutes, 6 epochs, segresnet and dynunet).
"""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner import slots
from minivess.agents.planner.annotation import _EPOCHS, _blank, _count, _folder, _no_run
from minivess.agents.planner.bounds import BOUNDS
from minivess.agents.planner.builders import Builder, Built
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.lexicon import NUM, families_in
from minivess.agents.planner.models import Clarify, Step
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.unknown import unknown_model_word

_I: Final = re.I
_SIGNED: Final = rf"(?P<sign>[-−]\s?)?(?P<n>{NUM})"
_TRIALS: Final = (
    re.compile(rf"(?<![\w.]){_SIGNED}\s*-?\s*(?:trials?|configs?|configurations?|candidates?|runs?)\b", _I),
    re.compile(rf"\btrials?\s*(?:=|:|of|to|set\s+to)\s*{_SIGNED}(?![\w.])", _I),
)
_DURATION: Final = re.compile(r"\b\d[\d.]*\s*-?\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|h|m)\b", _I)
# Choices the search makes itself: a loss or optimiser the user names cannot be fixed, so it is asked about.
_SEARCHED_CHOICE: Final = re.compile(
    r"\b(?:dice_ce(?:_cldice)?|(?:cl[\s_-]?dice|dice\s*\+?\s*ce|topolog\w*)\s+loss|loss\s+(?:dice_ce\w*|cl[\s_-]?dice)"
    r"|sgd|adamw?)\b",
    _I,
)
# Any other id written after the word ("search status 8f3e21", "search s-20261203-1"): used as written, the tool
# answers when it knows no such search
_NAMED_SEARCH: Final = re.compile(
    r"\b(?:search|sweep)(?:[\s_]+(?:status|id|progress))?\s*(?:of\s+|for\s+|=|:)?\s*"
    r"(?P<id>(?=[\w-]*\d)(?![\d.]+\s*(?:min|h|trials?)\b)[A-Za-z0-9][\w-]{3,})\b",
    re.I,
)
SEARCH_ID: Final = re.compile(r"(?<![\w-])(?:[A-Za-z][\w]*-)?\d{8}-\d{4,6}(?:-[0-9a-f]{4})?\b", _I)


def build_start_search(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """start_search with the budget ("for 10 minutes", "2 hours"), trials, epochs per trial, families, dataset."""
    runs = [ref for ref in refs if ref.kind != "family"]  # "search segresnet and dynunet": families, not runs
    if problem := _no_run("start_search", clause, runs, "plans its own trials from every past run and takes no run"):
        return problem
    if problem := unknown_model_word(clause):
        return problem
    if fixed := _SEARCHED_CHOICE.search(clause):
        return Clarify(
            f"start_search chooses the loss (dice_ce, dice_ce_cldice) and the optimiser (adamw, sgd) itself, so it "
            f"cannot fix '{fixed.group(0)}'. Search over all of them? (Say 'yes', or 'drop it'; to train that one "
            "setting, ask me to train it.)",
            at=fixed.start(),
            span=fixed.span(),
        )
    args: dict[str, Any] = {}
    minutes = slots.budget_minutes(clause)
    if minutes is not None:
        bound = BOUNDS["start_search.budget_minutes"]
        if not bound.allows(minutes):
            return Clarify(
                f"The search budget must be {bound.describe()} minutes, not {minutes:g}. How long should it run "
                f"(for example {bound.example} minutes)?",
                number_only=True,
            )
        args["budget_minutes"] = minutes
    rest = _blank(clause, [match.span() for match in _DURATION.finditer(clause)])
    for key, patterns in (("trials", _TRIALS), ("epochs", _EPOCHS)):
        value = _count(rest, patterns, BOUNDS[f"start_search.{key}"])
        if isinstance(value, Clarify):
            return value
        if value is not None:
            args[key] = value
    families = families_in(clause)
    if families:
        args["families"] = list(dict.fromkeys(name for *_, name in families))
    folder = _folder(rest, res, continues=False)
    if isinstance(folder, Clarify):
        return folder
    if folder is not None:
        args["dataset"] = folder
    return [Step("start_search", args)]


def build_search_status(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """search_status of the search id written, else of the one an earlier turn started or showed, else the newest
    (another process may have started a newer one since)."""
    found = SEARCH_ID.search(clause)
    named = found.group(0) if found else (m.group("id") if (m := _NAMED_SEARCH.search(clause)) else None)
    return [Step("search_status", {"search_id": named or res.search_id or "last"})]


SEARCH_BUILDERS: Final[dict[Intent, Builder]] = {
    "start_search": build_start_search,
    "search_status": build_search_status,
}
