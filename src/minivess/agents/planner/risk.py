"""Risk values and uncertainty outputs: "misses at most 5 % of vessels" → 0.05, "uncertainty map to u.nii.gz".

A tolerated false-negative rate is a fraction in (0, 1): a percentage is divided by 100, a plain number is taken
as it is, and anything outside the open interval ("at most 150 %", "alpha 0") is asked about, never clamped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from minivess.agents.planner.lexicon import NUM, parse_number
from minivess.agents.planner.models import Clarify

_I: Final = re.I
_PERCENT: Final = r"(?P<pct>%|percent\b|per\s?cent\b|pct\b)"
_VALUE: Final = rf"(?P<value>(?<![\w.])(?P<num>[-−]?\s?{NUM})\s*{_PERCENT}?)"
_PERCENT_VALUE: Final = rf"(?P<value>(?<![\w.])(?P<num>[-−]?\s?{NUM})\s*{_PERCENT})"
# Words between the rate and its value ("fnr at most 0.05", "a false negative rate of 10 %", "alpha=0.1").
_QUALIFIER: Final = (
    r"(?:at\s+most|no\s+more\s+than|not\s+more\s+than|(?:less|fewer|lower)\s+than|under|below|only|up\s+to"
    r"|or\s+(?:below|less|lower|under|fewer)"
    r"|a\s+maximum\s+of|max(?:imum)?(?:\s+of)?|of|at|to|is|set\s+to|within|around|about|<=|<|≤|=|:"
    r"|budget(?:\s+of)?|target(?:\s+of)?|tolerance(?:\s+of)?)(?![a-z])"
)
_VESSELS: Final = r"(?:of\s+(?:the\s+|all\s+)?)?(?:vessels?|vessel\s+voxels|voxels|vasculature)\b"
_RATE_WORD: Final = r"(?:fnr|false[\s-]+negative(?:s|\s+rate)?|miss[\s-]+rate|risk(?:_fnr)?|alpha)\b"
_PATTERNS: Final = tuple(
    re.compile(pattern, _I)
    for pattern in (
        rf"\b{_RATE_WORD}(?:\s*{_QUALIFIER})*\s*{_VALUE}",  # "fnr at most 0.05", "at alpha 0.1"
        rf"\bmiss(?:es|ing|ed)?\b(?:\s*{_QUALIFIER})*\s*{_VALUE}",  # "misses at most 5 % of vessels"
        rf"\b{_QUALIFIER}\s*{_VALUE}\s*{_VESSELS}\s+(?:(?:are|is|get|gets)\s+)?(?:missed|lost)\b",
        rf"{_VALUE}\s+(?:{_RATE_WORD}|(?:missed|lost)\s+{_VESSELS})",  # "a 10 % false negative rate"
        rf"\b(?:at\s+most|no\s+more\s+than|not\s+more\s+than|up\s+to|under|below|(?:less|fewer)\s+than)\s+"
        rf"{_PERCENT_VALUE}",  # "a mask for the champion, at most 10 %"
        rf"\b(?:los(?:e|es|ing|t)|miss(?:es|ing)?|dropp?(?:ing)?)\s+(?:only\s+|at\s+most\s+|up\s+to\s+|no\s+more\s+than\s+)?{_VALUE}\s*"
        rf"{_VESSELS}",  # "I can live with losing 8 % of the vessel voxels"
        rf"\bnot\s+miss\s+more\s+than\s*{_VALUE}",  # "it must not miss more than 5 % of vessel voxels"
        rf"\b(?:cap|limit|keep)\s+(?:the\s+)?(?:missed\s+vessels?|misses|miss\s+rate|fnr|false[\s-]+negatives?)"
        rf"(?:\s+(?:at|to|below|under))?\s*{_VALUE}",  # "cap the missed vessels at 3 %"
    )
)
# Where the request is about the rate itself (conformal_calibrate), a bare percentage is it: "… at 10 %".
_BARE_PERCENT: Final = (
    re.compile(rf"\b(?:at|of|with|to|for)\s+{_PERCENT_VALUE}", _I),
    re.compile(rf"{_PERCENT_VALUE}\s+(?:conformal|risk|fnr|threshold)\b", _I),  # "a 5% conformal threshold"
    # "conformal-calibrate the last run at 0.1": a bare fraction
    re.compile(r"\b(?:at|with)\s+(?P<value>(?<![\w.])(?P<num>0?\.\d+)(?P<pct>))(?![\w.%])", _I),
)
_NOT_NUMBERS: Final = frozenset({"a", "an"})
_OUT_OF_RANGE: Final = (
    "{what} must be a fraction between 0 and 1 (exclusive), e.g. 0.05 or 5 % for 'misses at most 5 % of "
    "vessels', not '{token}'. Which value should I use?"
)


@dataclass(frozen=True)
class Fraction:
    """A tolerated false-negative rate as written: its value and where it stands in the clause."""

    value: float
    start: int
    end: int
    token: str


def fnr_fraction(clause: str, *, bare_percent: bool = False) -> Fraction | None:
    """The last tolerated false-negative rate written in ``clause`` (as a fraction, maybe out of range), or None.

    With ``bare_percent``, "at 10 %" counts too (for requests that are about the rate itself).
    """
    found: re.Match[str] | None = None
    for pattern in (*_PATTERNS, *_BARE_PERCENT) if bare_percent else _PATTERNS:
        for match in pattern.finditer(clause):
            if match.group("num").strip().lower() in _NOT_NUMBERS:
                continue  # "misses at most a few": an article, not a value
            if found is None or match.start("value") >= found.start("value"):
                found = match
    if found is None:
        return None
    raw = re.sub(r"^-\s+", "-", found.group("num").replace("−", "-").strip())  # "- 5" is -5; "a ten" stays words
    negative = raw.startswith("-")
    number = parse_number(raw.lstrip("-"))
    if number is None:
        return None
    value = (-number if negative else number) / (100.0 if found.group("pct") else 1.0)
    return Fraction(value, found.start("value"), found.end("value"), found.group("value").strip())


def fnr_value(clause: str, what: str, *, bare_percent: bool = False) -> float | Clarify | None:
    """The tolerated false-negative rate for an argument (``what`` names it), None when none is written, or a
    question naming the limit when it is outside (0, 1). The answer replaces the value as written."""
    found = fnr_fraction(clause, bare_percent=bare_percent)
    if found is None:
        return None
    if 0.0 < found.value < 1.0:
        return found.value
    return Clarify(_OUT_OF_RANGE.format(what=what, token=found.token), at=found.start, span=(found.start, found.end))


_NII: Final = r"""['"`]?(?P<path>(?:/|~/|\.{1,2}/)?(?:[\w.~-]+/)*[\w.-]+\.nii(?:\.gz)?)\b['"`]?"""
_UNCERTAINTY_WORD: Final = re.compile(
    r"\buncertaint(?:y|ies)(?:[\s_-]+(?:maps?|volumes?|images?|outputs?|estimates?))?\b|\bentropy[\s_-]+maps?\b", _I
)
_UNCERTAINTY_PATH: Final = (
    re.compile(
        rf"\b(?:uncertaint(?:y|ies)|entropy(?=[\s_-]+maps?))(?:[\s_-]+(?:maps?|volumes?|images?|outputs?|estimates?))?"
        rf"\s*(?:path\s*)?(?:(?:saved|written|stored|put)\s+)?"
        rf"(?:(?:to|at|into|as|in|under|=|:)\s*)?{_NII}",
        _I,
    ),
    re.compile(rf"{_NII}\s+(?:as|for)\s+(?:the\s+|an\s+)?uncertaint(?:y|ies)\b", _I),
)


@dataclass(frozen=True)
class UncertaintyOutput:
    """Where the user asked for an uncertainty map: its path (None when not given) and the clause span to skip."""

    path: str | None
    start: int
    end: int


def uncertainty_output(clause: str) -> UncertaintyOutput | None:
    """The uncertainty map asked for in ``clause`` ("write an uncertainty map to out/unc.nii.gz"), or None."""
    for pattern in _UNCERTAINTY_PATH:
        match = pattern.search(clause)
        if match:
            return UncertaintyOutput(match.group("path"), match.start("path"), match.end("path"))
    word = _UNCERTAINTY_WORD.search(clause)
    return UncertaintyOutput(None, word.end(), word.end()) if word else None


def without_span(clause: str, start: int, end: int) -> str:
    """The clause with clause[start:end] blanked (same length, so offsets stay valid)."""
    return clause[:start] + " " * (end - start) + clause[end:]
