"""Rewrites that put what users type into the forms the extractors read, before a request is planned.

Compound durations become one number of minutes ("an hour and a half" → "90 minutes", "1h30" → "90 minutes"), so
the budget is read whole and the accounting pass sees one value, not "1" and "30"; sizes spelled with "by"
("64 by 64 by 32") become "64x64x32", and a fraction of the vessels in words a percentage ("a fifth of the
vessels" → "20 % of the vessels", "one in twenty vessels" → "5 % of the vessels"). The rewrite is idempotent:
normalising twice changes nothing.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Final

from minivess.agents.planner.lexicon import NUM, NUMBER_WORDS, parse_number

_I: Final = re.I
_HOURS: Final = r"(?:hours?|hrs?|h)"
_MINUTES: Final = r"(?:minutes?|mins?|m)"
_DURATIONS: Final[tuple[tuple[re.Pattern[str], tuple[float, float]], ...]] = (
    # (pattern, (factor on group 1 in minutes, constant minutes added))
    (re.compile(rf"\b({NUM})\s+and\s+a\s+half\s+{_HOURS}\b", _I), (60.0, 30.0)),  # "one and a half hours"
    (re.compile(rf"\b({NUM})\s*{_HOURS}\s+and\s+a\s+half\b", _I), (60.0, 30.0)),  # "an hour and a half"
    (re.compile(r"\bthree[\s-]quarters?\s+of\s+an\s+hour\b", _I), (0.0, 45.0)),
    (re.compile(r"\b(?:a\s+)?quarter(?:\s+of\s+an|[\s-])\s*hour\b", _I), (0.0, 15.0)),
    (re.compile(r"\b(?:a\s+)?half[\s-](?:an\s+)?hour\b", _I), (0.0, 30.0)),
)
# "1 hour 30 minutes", "2 hours and 15 mins", "1h30m", "1h 30", "1h30".
_HOURS_AND_MINUTES: Final = re.compile(
    rf"\b({NUM})\s*{_HOURS}\s*(?:and\s+)?(\d+|{NUM})\s*{_MINUTES}\b|\b(\d+)h(\d{{1,2}})\b", _I
)
_FRACTIONS: Final = {"half": 50, "third": 33.3, "quarter": 25, "fifth": 20, "tenth": 10, "twentieth": 5,
                      "hundredth": 1}  # fmt: skip
# "miss at most a fifth of the vessels" → "20 % of the vessels" (only of vessels: "a quarter of an hour" is time)
_FRACTION_OF_VESSELS: Final = re.compile(
    r"\b(?:a|one)\s+(half|third|quarter|fifth|tenth|twentieth|hundredth)\s+(?=of\s+(?:the\s+|all\s+)?(?:vessel|voxel))",
    _I,
)
# "no more than one in twenty vessels" → "5 % of the vessels"
_ONE_IN_N_VESSELS: Final = re.compile(rf"\b(?:one|1)\s+(?:in|out\s+of)\s+({NUM})\s+(?=(?:vessel|voxel))", _I)
# "a learning rate of zero", "seed forty two": a number word after an option's keyword becomes digits, so the
# bounds and the accounting pass see it like a typed value ("lr 0" is out of range and asked about).
_KEYWORD_NUMBER_WORD: Final = re.compile(
    r"\b(?P<key>learning[\s-]+rate|lr|batch[\s_-]?size|seed|epochs?|folds?|trials?|alpha|top[\s_-]?k)"
    rf"(?P<sep>\s+(?:of\s+|=\s*|to\s+|set\s+to\s+|is\s+|:\s*)?|\s*[=:]\s*)(?P<num>{NUMBER_WORDS})",
    _I,
)
_BY_SIZE: Final = re.compile(r"\b(\d+)\s+by\s+(\d+)(?:\s+by\s+(\d+))?\b", _I)
# "segresnet x5 epochs": the count before its unit, so the extractors read it ("x5" was no number to them)
_TIMES_COUNT: Final = re.compile(r"(?<![\w.])[x×](\d+)(?=\s+(?:epochs?|eps?|folds?|trials?|volumes?)\b)", _I)
# "minus five epochs", "negative 0.001": the sign is kept, so the bounds see "-5" and ask, never plan 5.
_SIGNED: Final = re.compile(rf"\b(?:minus|negative)\s+({NUM})", _I)


def _minutes(value: float) -> str:
    return f"{value:g} minutes"


def _duration(match: re.Match[str], factor: float, constant: float) -> str:
    if factor == 0.0:
        return _minutes(constant)
    value = parse_number(match.group(1))
    return match.group(0) if value is None else _minutes(value * factor + constant)


def _hours_and_minutes(match: re.Match[str]) -> str:
    hours, minutes = parse_number(match.group(1) or match.group(3)), parse_number(match.group(2) or match.group(4))
    if hours is None or minutes is None or minutes >= 60:
        return match.group(0)
    return _minutes(hours * 60.0 + minutes)


def _one_in_n(match: re.Match[str]) -> str:
    count = parse_number(match.group(1))
    return match.group(0) if not count or count < 1 else f"{100 / count:.3g} % of the "


def _by_size(match: re.Match[str]) -> str:
    return "x".join(group for group in match.groups() if group)


def _keyword_number(match: re.Match[str]) -> str:
    value = parse_number(match.group("num"))
    return match.group(0) if value is None else f"{match.group('key')}{match.group('sep')}{value:g}"


def _signed(match: re.Match[str]) -> str:
    value = parse_number(match.group(1))
    return match.group(0) if value is None else f"-{value:g}"


def rewrite(text: str) -> str:
    """``text`` with compound durations as minutes, "N by N by N" sizes as NxNxN and "minus N" as -N."""
    text = _SIGNED.sub(_signed, text)
    text = _TIMES_COUNT.sub(r"\1", text)
    for pattern, (factor, constant) in _DURATIONS:
        text = pattern.sub(partial(_duration, factor=factor, constant=constant), text)
    text = _HOURS_AND_MINUTES.sub(_hours_and_minutes, text)
    text = _FRACTION_OF_VESSELS.sub(lambda m: f"{_FRACTIONS[m.group(1).lower()]:g} % ", text)
    text = _ONE_IN_N_VESSELS.sub(_one_in_n, text)
    text = _KEYWORD_NUMBER_WORD.sub(_keyword_number, text)
    return _BY_SIZE.sub(_by_size, text)
