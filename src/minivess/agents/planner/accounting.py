"""Account for every value a user gave: a number or ``key=value`` the planned steps do not use becomes a question.

A user who asked for 8 epochs and got the preset's 2 has been lied to. After a clause is turned into steps,
every number in it must be explained — used as an argument, part of a run reference, a path, a metric name or
the SQL — else the planner names the value and asks, and the user's answer replaces exactly that value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Final

from minivess.agents.planner import slots
from minivess.agents.planner.bounds import keyword_bound
from minivess.agents.planner.lexicon import NUMBER_WORDS, parse_number
from minivess.agents.planner.models import Clarify, Step, StepOutput
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.unknown import unknown_metric_key

# A number standing on its own: "8", "-1", "0.0005", "1e-3", "10^8", "5e-4" (not "3d", "v2", "64x64", "2-photon").
_NUMBER: Final = re.compile(
    r"(?<![\w.^])(?P<num>(?:[-−](?!\s)|(?<![\s\w])[-−]\s)?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?:\s*\^\s*-?\d+)?|[-−]?\.\d+)(?![\w.]*[A-Za-z_/\\]|[.\d]|-[A-Za-z])",
    re.I,
)
# "as 'warmup30'", "named \"v2\"": a quoted word is a name the user chose; a step must use it
_QUOTED: Final = re.compile(r"(?<!\w)(['\"`])(?P<text>[^'\"`\s][^'\"`]*?)\1(?!\w)")
# A count in words ("a dozen", "twenty", "forty five"); "one" stays a word ("the segresnet one")
_NUMBER_WORD: Final = re.compile(
    rf"(?<![\w-])(?P<num>(?:an?\s+)?{NUMBER_WORDS})(?:-fold)?(?![\w-])"  # "five-fold" too
    r"(?!\s+(?:things?|ways?|reasons?|questions?|people|persons?|times?|of\s+(?:us|them|you)|others?)\b)",
    re.I,
)
_SIZE: Final = re.compile(r"\b\d+(?:\s*[x×*]\s*\d+)+\b", re.I)
# "lr 0.0.1", "3.5.1 epochs": a number with two decimal points is no value (an IP address has three)
_MALFORMED: Final = re.compile(r"(?<![\w.])[-−]?\d+\.\d+\.\d+(?![\w.:])")
_KEY_VALUE: Final = re.compile(r"(?<![\w.])(?P<key>[A-Za-z_][\w.]*)\s*=\s*(?P<value>[^\s,;]+)")
# Spans whose digits are names, not values: paths, file names, metric names (hd95), dimensions (64x64x32).
_NAMES: Final = re.compile(
    r"\S*[/\\]\S*|\S+\.nii(?:\.gz)?\b|\bhd[\s_-]?95\b|\b\d+\s*(?:\^\s*3|³|[\s-]?cubed\b)",
    re.I,
)
# a budget in minutes may have been written in hours, seconds, days or weeks
_MINUTE_FACTORS: Final = (1.0, 60.0, 1 / 60.0, 1 / 1440.0, 1 / 10080.0)
_PERCENT_FACTORS: Final = (1.0, 100.0)  # a false-negative rate (a fraction) may have been written as a percentage
_FACTORS: Final = {
    "max_minutes": _MINUTE_FACTORS,
    "budget_minutes": _MINUTE_FACTORS,
    "alpha": _PERCENT_FACTORS,
    "risk_fnr": _PERCENT_FACTORS,
}


def parse_token(raw: str) -> float | None:
    """The value of a number token ("-1", "1e-3", "10^8"); None if it is not one."""
    text = raw.replace("−", "-").replace(" ", "")
    base, _, power = text.partition("^")
    try:
        value = float(base)
        return value ** float(power) if power else value
    except (ValueError, OverflowError):
        return None


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif not isinstance(value, StepOutput):
        yield value


def _used_numbers(steps: list[Step]) -> list[tuple[float, ...]]:
    """Each number the steps use, as the ways it may have been written; each one accounts for one written value."""
    numbers: list[tuple[float, ...]] = [(float(len(steps)),)] if len(steps) > 1 else []  # "all 3 families"
    for step in steps:
        for key, value in step.args.items():
            if isinstance(value, list) and len(value) > 1 and all(isinstance(v, str) for v in value):
                numbers.append((float(len(value)),))  # "compare 3 runs: a, b, c"
            for leaf in _leaves(value):
                if isinstance(leaf, int | float) and not isinstance(leaf, bool):
                    factors = _FACTORS.get(key, (1.0,))
                    numbers.append(tuple(float(leaf) * f for f in factors))
    return numbers


def _take(value: float, numbers: list[tuple[float, ...]]) -> bool:
    """Remove and report the first used number that ``value`` is a way of writing."""
    for index, forms in enumerate(numbers):
        if any(math.isclose(value, form, rel_tol=1e-9, abs_tol=1e-12) for form in forms):
            del numbers[index]
            return True
    return False


def _used_text(steps: list[Step]) -> str:
    """The string arguments (SQL, names, paths): a number inside them is used."""
    return " ".join(
        leaf for step in steps for value in step.args.values() for leaf in _leaves(value) if isinstance(leaf, str)
    )


def _list_args(steps: list[Step]) -> list[list[int | float]]:
    """Numeric list arguments (patch sizes, shapes)."""
    return [
        value
        for step in steps
        for value in step.args.values()
        if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value)
    ]


def _covered(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def unaccounted(clause: str, steps: list[Step], refs: list[RunRef]) -> tuple[str, int, int] | None:
    """The first value in ``clause`` that the steps do not use: (as written, start, end), or None.

    Args:
        clause: The clause as the user wrote it.
        steps: The steps built from it.
        refs: Run references found in it (their ids and counts are accounted for).
    """
    spans = [(ref.start, ref.end) for ref in refs] + [m.span() for m in _NAMES.finditer(clause)]
    numbers = _used_numbers(steps)
    text = _used_text(steps)
    keys = {key for step in steps for key in step.args}
    for match in _KEY_VALUE.finditer(clause):
        value = match.group("value").rstrip(".")
        key = match.group("key")
        if key in keys or any(used.startswith(f"{key}_") for used in keys):
            continue  # "by_family=false", "budget=1h" (budget_minutes): the step sets that argument from it
        if parse_token(value) is None and value.lower() not in text.lower():
            return match.group(0), match.start(), match.end()
    for match in _QUOTED.finditer(clause):
        if _covered(*match.span("text"), spans):
            continue  # "run ref `best`": a run reference, accounted for by the step that uses it
        if match.group("text").strip().lower() not in text.lower():
            return match.group("text"), match.start("text"), match.end("text")
    for match in _MALFORMED.finditer(clause):
        if not _covered(*match.span(), spans) and match.group(0) not in text:
            return match.group(0), match.start(), match.end()
    sizes = [[float(v) for v in value] for value in _list_args(steps)]
    for match in _SIZE.finditer(clause):  # "96x96", "64x64x16x2": a size must be used whole, as a list argument
        if [float(side) for side in re.findall(r"\d+", match.group(0))] not in sizes:
            return match.group(0), match.start(), match.end()
    for match in slots.CUBE.finditer(clause):  # its digits are covered as a name below; the size itself must be used
        if [float(match.group(1))] * 3 not in sizes:
            return match.group(0), match.start(), match.end()
    written: set[float] = set()  # numbers used as written in digits: the same number in words restates one
    for match in _NUMBER.finditer(clause):
        start, end = match.span("num")
        if _covered(start, end, spans):
            continue
        value = parse_token(match.group("num"))
        if value is None or not math.isfinite(value):
            return match.group("num"), start, end
        if _take(value, numbers):
            written.add(value)
            continue
        if re.search(rf"(?<![\w.]){re.escape(match.group('num').strip())}(?![\w.])", text):
            continue  # the number is inside a string argument (SQL, a name)
        return match.group("num"), start, end
    for match in _NUMBER_WORD.finditer(clause):  # "push a dozen of the most suspicious slices": 12, not 20
        start, end = match.span("num")
        value = parse_number(match.group("num"))
        if _covered(start, end, spans) or value is None or value == 1 or value in written or _take(value, numbers):
            continue
        if match.group("num").lower() in text.lower():
            continue  # a name or SQL that spells it
        return match.group("num"), start, end
    return None


def check_values(clause: str, steps: list[Step], refs: list[RunRef]) -> Clarify | None:
    """A question about the first unused value in ``clause`` (the answer replaces it), or None.

    A value next to a known keyword ("lr -1", "-4 volumes", "10^8 epochs") is out of that argument's range: the
    question names the limit. Any other value is one the planner cannot place: the question quotes it.
    """
    if problem := unknown_metric_key(clause, _used_text(steps)):
        return problem
    if problem := _device_unused(clause, steps):
        return problem
    found = unaccounted(clause, steps, refs)
    if found is None:
        return None
    return _unused_value_question(clause, *found)


# Tools that run a model somewhere (a device would matter), unlike the analytics tools, for which "the runs on the
# gpu" describes runs. Restated from the tool modules (the planner imports nothing of ours).
_COMPUTE_TOOLS: Final = frozenset(
    {"evaluate_run", "predict_volume", "calibrate_run", "conformal_calibrate", "build_ensemble", "greedy_soup",
     "quality_gate", "find_label_issues", "queue_for_review", "start_search", "check_drift"}
)  # fmt: skip


def _device_unused(clause: str, steps: list[Step]) -> Clarify | None:
    """A device named for steps none of which takes one ("evaluate run X on the gpu"); a device written inside a
    string argument (SQL: "… WHERE value = 'cuda:1'") is used."""
    found = slots.device_written(clause)
    if found is None or any("device" in step.args for step in steps):
        return None
    device, (start, end) = found
    written, used = clause[start:end].strip(), _used_text(steps)
    compute = [step.tool for step in steps if step.tool in _COMPUTE_TOOLS]
    if not compute or device in used or written in used:
        return None
    tools = ", ".join(dict.fromkeys(compute))
    return Clarify(
        f"Only training takes a device; {tools} runs where the machine puts it (a GPU when there is one), so it "
        f"cannot use '{written}'. Should I run it without that? (Say 'yes', or 'drop it'.)",
        at=start,
        span=(start, end),
    )


def _unused_value_question(clause: str, token: str, start: int, end: int) -> Clarify:
    """The question about one value written in ``clause`` that no step uses."""
    bound = keyword_bound(clause, start, end)
    value = parse_token(token)
    value = parse_number(token) if value is None else value  # "three folds": 3, in range; asked as unused
    if bound is not None and (value is None or not bound.allows(value)):
        return Clarify(bound.question(f"'{token}'"), at=start, span=(start, end), number_only=True)
    question = (
        f"I did not use '{token}' in \"{clause}\": I would have to ignore it or guess. What did you mean by it? "
        "(For example '8 epochs', 'lr 1e-3', 'batch size 4', 'patch 64x64x32', 'for 30 minutes'; or say 'drop it'.)"
    )
    return Clarify(question, at=start, span=(start, end))
