"""Builders for the uncertainty tools: calibration, conformal thresholds, ensembles, greedy soups, the weight gate.

Like evaluate_run, each acts on the runs named, else on the conversation's latest run ("it"), else asks which
run: none of them picks a run the user did not point at.
"""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner import risk, unknown
from minivess.agents.planner.builders import Builder, Built, ask_run, targets
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.lexicon import METRIC_ALT, NUM, families_in, first_metric, parse_int
from minivess.agents.planner.models import Clarify, Step
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.texts import render_ref

_I: Final = re.I
_FIXED_SPLIT: Final = re.compile(
    r"\b(?:on|using|with|against|over|for)\s+(?:the\s+)?(?:val(?:idation)?|test(?:ing)?|train(?:ing)?|held[\s-]out)"
    r"\s+(?:split|set|data|volumes)\b",
    _I,
)
_SPLITS_USED: Final[dict[str, str]] = {
    "calibrate_run": "it fits the temperature on the validation split and reports on the test split",
    "conformal_calibrate": "it chooses the threshold on the validation split and checks it on the test split",
}
_K: Final = re.compile(
    rf"\b(?:top|first|best)(?:\s+|-)(?P<a>{NUM})\b(?!\s*%)"
    rf"|(?<![\w.])(?P<b>{NUM})\s+(?:best|top|highest[\s-]scoring|strongest)\b(?![\s-]*\d)",
    _I,
)
_K_LIMITS: Final = (2, 10)  # build_ensemble: top_k and len(run_ids) (restated from its schema; a test checks)
_NAMED_KINDS: Final = frozenset({"id", "alias", "last", "previous", "pronoun", "plural", "lastn"})
_VOTE: Final = re.compile(r"\bvot(?:e|es|ed|ing)\b|\bmajority\b", _I)
_WEIGHTED: Final = re.compile(r"\bweight(?:ed|s|ing)?\b", _I)
_OTHER_STRATEGY: Final = re.compile(
    r"\b(?:median|max(?:imum)?|min(?:imum)?|geometric|stack(?:ed|ing)|bagg(?:ed|ing)|boost(?:ed|ing)|product|union"
    r"|intersection|staple)\b",
    _I,
)
_ITS_METRIC: Final = re.compile(rf"^\s*(?:own\s+)?(?:(?:val(?:idation)?|test)[\s_]*)?(?:{METRIC_ALT})\b", _I)
_METRIC_WORD: Final = re.compile(rf"\b(?:(?:val(?:idation)?|test)[\s_]*)?(?:{METRIC_ALT})\b", _I)
ENSEMBLE_QUESTION: Final = (
    "Which runs should I ensemble? Name 2 to 10 runs (run ids, 'the last run', 'the best dynunet', …) or ask for "
    "the k best, e.g. 'the 3 best runs' or 'the 4 best segresnets'."
)
_SOUP_ONE_RUN: Final = (
    "A greedy soup averages the epoch checkpoints of one run: the weights must share an initialisation, so runs "
    "trained separately (from scratch) cannot be souped together. Which one run should I use{choice}? To combine "
    "several runs, ask for an ensemble instead, e.g. 'ensemble {runs}'."
)


def _fixed_split(tool: str, clause: str) -> Clarify | None:
    """ "calibrate it on the training split": the tool has no split to choose; ask rather than ignore the words."""
    match = _FIXED_SPLIT.search(clause)
    if match is None:
        return None
    return Clarify(
        f"{tool} has no split to choose: {_SPLITS_USED[tool]}. Should I run it like that without "
        f"'{match.group(0)}'? (Say 'yes', or 'drop it'.)",
        at=match.start(),
        span=match.span(),
    )


def build_calibrate(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """calibrate_run for each run named (temperature scaling, ECE before/after)."""
    if problem := _fixed_split("calibrate_run", clause):
        return problem
    runs = targets(refs, res, single=False)
    if not runs:
        return ask_run("calibrate", refs, clause)
    return [Step("calibrate_run", {"run_id": run}) for run in runs]


def build_conformal(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """conformal_calibrate for each run named; alpha from "misses at most 5 % of vessels" (else the tool's 0.05)."""
    if problem := _fixed_split("conformal_calibrate", clause):
        return problem
    alpha = risk.fnr_value(clause, "The tolerated false-negative rate (alpha)", bare_percent=True)
    if isinstance(alpha, Clarify):
        return alpha
    runs = targets(refs, res, single=False)
    if not runs:
        return ask_run("choose the conformal mask threshold for", refs, clause)
    extra: dict[str, Any] = {} if alpha is None else {"alpha": alpha}
    return [Step("conformal_calibrate", {"run_id": run, **extra}) for run in runs]


def _other_metric(clause: str) -> Clarify | None:
    """ "the 3 best runs by clDice", "weighted by NSD": members are ranked and weighted by validation Dice only."""
    for match in _METRIC_WORD.finditer(clause):
        metric = first_metric(match.group(0))
        if metric is not None and metric != "val_dice":
            return Clarify(
                f"build_ensemble ranks and weights its members by validation Dice only, not by {metric}. "
                "Should I use validation Dice? (Say 'val dice', or 'drop it'.)",
                at=match.start(),
                span=match.span(),
            )
    return None


def _top_k(clause: str, refs: list[RunRef], k: re.Match[str]) -> dict[str, Any] | Clarify:
    """top_k (and family) from "the 4 best segresnets"; k outside 2..10 or runs named besides is asked about."""
    word = k.group("a") or k.group("b")
    value = parse_int(word)
    low, high = _K_LIMITS
    if value is None or not low <= value <= high:
        start, end = k.span("a") if k.group("a") else k.span("b")
        return Clarify(
            f"An ensemble takes {low} to {high} runs, not '{word}'. How many of the best runs should I ensemble?",
            at=start,
            span=(start, end),
        )
    named = [
        ref
        for ref in refs
        if ref.kind in _NAMED_KINDS
        and not (ref.start < k.end() and k.start() < ref.end)
        and not (ref.kind == "pronoun" and _ITS_METRIC.match(clause[ref.end :]))  # "by its validation dice"
        and not (ref.kind in ("plural", "pronoun") and ref.start >= k.end())  # "the three strongest … average them"
    ]
    if named:  # "the two best dynunets": "the two" is the count, not runs named besides
        return Clarify(
            "Should I ensemble the runs you named or the best ones? Name the runs, or ask for the k best "
            "(e.g. 'the 3 best runs'), not both."
        )
    families = list(dict.fromkeys(name for _, _, name in families_in(clause)))
    if len(families) > 1:
        return Clarify(
            f"The k best runs come from one model family or from all of them, not from {' and '.join(families)}. "
            "Which family (or 'all families')?"
        )
    return {"top_k": value, **({"family": families[0]} if families else {})}


def _members(refs: list[RunRef], res: RefResolver) -> list[Any] | Clarify:
    """The runs named ("runs A, B and C", "the last run and the best dynunet", "them"), 2..10 of them."""
    named = [ref for ref in refs if ref.kind not in ("plural", "pronoun")]
    if len(named) >= 2:  # "the champion and the challenger by averaging their probabilities": "their" is them
        refs = named
    runs = list(res.resolve(refs, single=False))
    wanted = [int(ref.value) for ref in refs if ref.kind == "lastn"]
    if not runs or (wanted and len(runs) < max(wanted)):
        return Clarify(ENSEMBLE_QUESTION)
    low, high = _K_LIMITS
    if len(runs) < low:
        return Clarify(
            f"An ensemble needs at least {low} runs; I have only {render_ref(runs[0])}. Which other runs should I "
            "add (or ask for the k best, e.g. 'the 3 best runs')?"
        )
    if len(runs) > high:
        return Clarify(f"An ensemble takes at most {high} runs, not {len(runs)}. Which {high} or fewer?")
    return runs


def build_ensemble(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """build_ensemble of the runs named, or of the k best (of one family); mean unless vote/weighted is named."""
    if problem := _other_metric(clause):
        return problem
    if other := _OTHER_STRATEGY.search(clause):
        return Clarify(
            f"build_ensemble has no '{other.group(0)}' strategy: it averages probabilities (mean), takes a majority "
            "vote (vote) or weights members by validation Dice (weighted). Which one should I use?",
            at=other.start(),
            span=other.span(),
        )
    if problem := unknown.unknown_model_word(clause):
        return problem
    strategy = "vote" if _VOTE.search(clause) else "weighted" if _WEIGHTED.search(clause) else "mean"
    found = [match for match in _K.finditer(clause) if match.group("a") or match.group("b")]
    if found:
        chosen = _top_k(clause, refs, found[-1])
        if isinstance(chosen, Clarify):
            return chosen
        return [Step("build_ensemble", {**chosen, "strategy": strategy})]
    runs = _members(refs, res)
    if isinstance(runs, Clarify):
        return runs
    return [Step("build_ensemble", {"run_ids": runs, "strategy": strategy})]


def build_soup(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """greedy_soup of the one run named; several runs get an explanation (a soup is made from one run's epochs)."""
    runs = targets(refs, res, single=False)
    several = [ref for ref in refs if ref.kind in ("plural", "lastn")]
    if len(runs) > 1 or several:
        named = [render_ref(run) for run in runs]
        choice = f": {' or '.join(named)}" if len(named) > 1 else ""
        span = (refs[0].start, refs[-1].end)
        text = _SOUP_ONE_RUN.format(choice=choice, runs=" and ".join(named) if len(named) > 1 else "runs A and B")
        return Clarify(text, at=span[0], span=span)
    if not runs:
        return ask_run("make a greedy soup of", refs, clause)
    return [Step("greedy_soup", {"run_id": runs[0]})]


def build_quality_gate(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """quality_gate (WeightWatcher) for each run named."""
    runs = targets(refs, res, single=False)
    if not runs:
        return ask_run("check with the weight quality gate", refs, clause)
    return [Step("quality_gate", {"run_id": run}) for run in runs]


UNCERTAINTY_BUILDERS: Final[dict[Intent, Builder]] = {
    "calibrate": build_calibrate, "conformal": build_conformal, "ensemble": build_ensemble, "soup": build_soup,
    "quality_gate": build_quality_gate,
}  # fmt: skip
