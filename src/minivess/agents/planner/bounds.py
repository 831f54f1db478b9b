"""The limits of the values the planner reads from text, so an out-of-range value is asked about, never dropped.

They restate the tool schemas' bounds (the planner imports nothing of ours); a unit test checks that every bound
here equals the bound in the tool's pydantic schema, so the schema stays the single source of what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Bound:
    """One argument's range as the tool schema states it (None = unbounded on that side)."""

    tool: str
    arg: str
    what: str  # how the question names it
    low: float | None
    high: float | None
    low_open: bool = False  # exclusiveMinimum
    high_open: bool = False  # exclusiveMaximum
    example: str = ""
    keyword: str = ""  # words that name the value in a request (for questions about a written value)

    def allows(self, value: float) -> bool:
        """True when ``value`` is inside the range."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def describe(self) -> str:
        """The range in words ("between 1 and 1000", "above 0")."""
        if self.low is not None and self.high is not None:
            extra = " (exclusive)" if self.low_open or self.high_open else ""
            return f"between {self.low:g} and {self.high:g}{extra}"
        if self.low is not None:
            return f"above {self.low:g}" if self.low_open else f"at least {self.low:g}"
        return f"at most {self.high:g}" if self.high is not None else "any number"

    def question(self, shown: str) -> str:
        """The question about a written value outside the range (``shown`` as the reply quotes it)."""
        example = f" (for example {self.example})" if self.example else ""
        return f"{self.what.capitalize()} must be {self.describe()}, not {shown}. Which value should I use{example}?"


BOUNDS: Final[dict[str, Bound]] = {
    bound.arg if bound.tool == "train_model" else f"{bound.tool}.{bound.arg}": bound
    for bound in (
        Bound("train_model", "epochs", "the number of epochs", 1, 1000, example="20", keyword=r"epochs?|eps?"),
        Bound("train_model", "lr", "the learning rate", 0, 1, True, True, "1e-3", r"lr|learning[\s-]+rate"),
        Bound("train_model", "batch_size", "the batch size", 1, 64, example="2", keyword=r"batch(?:[\s_-]*size)?|bs"),
        Bound("train_model", "max_minutes", "the time budget", 0, None, True, example="30 minutes",
              keyword=r"minutes?|mins?|hours?|hrs?|seconds?|secs?|budget"),
        Bound("synthesize_data", "n", "the number of volumes", 1, 500, example="8",
              keyword=r"volumes?|images?|samples?|stacks?|cases?|scans?|cubes?"),
        Bound("leaderboard", "limit", "the number of rows", 1, 100, example="10", keyword=r"top|first|best|rows?"),
        Bound("query_runs", "max_rows", "the row cap", 1, 1000, example="100", keyword=r"max_rows|row\s+cap"),
        Bound("conformal_calibrate", "alpha", "the tolerated false-negative rate (alpha)", 0, 1, True, True,
              "0.05", r"alpha"),
        Bound("predict_volume", "risk_fnr", "the tolerated false-negative rate (risk_fnr)", 0, 1, True, True,
              "0.05", r"risk_fnr"),
        Bound("build_ensemble", "top_k", "the number of runs to ensemble", 2, 10, example="3", keyword=r"top_k"),
        Bound("find_label_issues", "folds", "the number of cross-validation folds", 2, 10, example="3",
              keyword=r"folds?"),
        Bound("find_label_issues", "epochs", "the number of epochs per fold", 1, 200, example="2",
              keyword=r"epochs?\s+(?:per|each|a)\s+fold"),
        Bound("find_label_issues", "top", "the number of slices to list", 1, 200, example="20", keyword=r"slices?"),
        Bound("queue_for_review", "top_k", "the number of slices to queue", 1, 500, example="20",
              keyword=r"top_k"),
        Bound("start_search", "trials", "the number of search trials", 1, 200, example="12", keyword=r"trials?"),
        Bound("start_search", "epochs", "the number of epochs per trial", 1, 200, example="6",
              keyword=r"epochs?\s+(?:per|each|a)\s+trial"),
        Bound("start_search", "budget_minutes", "the search budget in minutes", 0, 1440, True, example="30",
              keyword=r"budget"),
    )
}  # fmt: skip


def bound_for(tool: str, arg: str) -> Bound | None:
    """The bound of one tool argument, if the planner checks it."""
    return BOUNDS.get(arg if tool == "train_model" else f"{tool}.{arg}")


def keyword_bound(clause: str, start: int, end: int) -> Bound | None:
    """The bound whose keyword stands right before or after the value at clause[start:end] ("lr -1", "-4 volumes")."""
    before, after = clause[max(0, start - 24) : start], clause[end : end + 24]
    for bound in BOUNDS.values():
        if re.search(rf"\b(?:{bound.keyword})\s*(?:=|:|of|to|is|at)?\s*$", before, re.I) or re.match(
            rf"(?:\s+[A-Za-z][\w-]*){{0,2}}?\s*-?\s*(?:{bound.keyword})\b", after, re.I
        ):
            return bound
    return None
