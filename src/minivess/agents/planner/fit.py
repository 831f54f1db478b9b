"""Fit planned arguments to the schema a tool is offered with: the schema is the final word on what is valid.

A value the schema refuses (an enum it lacks, a number outside its bounds, a list of the wrong length) is never
dropped silently: it is reported, and the worker asks the user about it instead of calling the tool.
"""

from __future__ import annotations

import re
from typing import Any


def _enums(schema: dict[str, Any]) -> list[Any]:
    values = list(schema.get("enum") or [])
    for option in schema.get("anyOf") or []:
        if isinstance(option, dict):
            values += list(option.get("enum") or [])
    return values


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema itself, or its non-null anyOf branches (pydantic writes `X | None` as anyOf)."""
    options = [o for o in schema.get("anyOf") or [] if isinstance(o, dict) and o.get("type") != "null"]
    return options or [schema]


def _number_problem(value: float, schema: dict[str, Any]) -> str | None:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open, high_open = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, int | float) and value < low:
        return f"must be at least {low:g}"
    if isinstance(low_open, int | float) and value <= low_open:
        return f"must be above {low_open:g}"
    if isinstance(high, int | float) and value > high:
        return f"must be at most {high:g}"
    if isinstance(high_open, int | float) and value >= high_open:
        return f"must be below {high_open:g}"
    return None


def _pattern_problem(pattern: str) -> str:
    """The rule a string broke, in words for a name-like class ("^[A-Za-z0-9_.-]+$"), else the pattern itself."""
    match = re.fullmatch(r"\^\[A-Za-z0-9([^\]A-Za-z0-9]*)\]\+\$", pattern)
    if match is None:
        return f"must match {pattern}"
    others = [f"'{c}'" for c in match.group(1)]
    words = ["letters", "digits", *others]
    allowed = ", ".join(words[:-1]) + f" and {words[-1]}"
    refused = [name for char, name in ((" ", "spaces"), ("/", "slashes")) if char not in match.group(1)]
    return f"may only hold {allowed}" + (f" (no {' or '.join(refused)})" if refused else "")


def value_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """Why ``value`` breaks ``schema`` (enum, numeric bounds, array length), or None when it fits."""
    if value is None:
        return None
    allowed = _enums(schema)
    if allowed and value not in allowed:
        return f"must be one of {', '.join(map(str, allowed))}"
    problems: list[str] = []
    for variant in _variants(schema):
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float) and variant.get("type") in ("integer", "number"):
            problem = _number_problem(float(value), variant)
            if problem is None:
                return None
            problems.append(problem)
        elif isinstance(value, list) and variant.get("type") == "array":
            low, high = variant.get("minItems"), variant.get("maxItems")
            if (low is None or len(value) >= low) and (high is None or len(value) <= high):
                return None
            problems.append(f"needs {low if low == high else f'{low}–{high}'} values, got {len(value)}")
        elif isinstance(value, str) and variant.get("type") in ("integer", "number"):
            problems.append("must be a number")  # "lr=fast"
        elif isinstance(value, str) and variant.get("type") == "string" and "pattern" in variant:
            if re.search(variant["pattern"], value):
                return None
            problems.append(_pattern_problem(variant["pattern"]))
        else:
            return None  # types the planner does not check (objects, free strings) are left to the tool
    return problems[0] if problems else None


def fit_arguments(args: dict[str, Any], parameters: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Fit planned arguments to an offered schema.

    Args:
        args: The planned arguments.
        parameters: The tool's JSON schema (``properties``, ``required``).

    Returns:
        (arguments the schema declares and accepts, required names missing, "name: why" for each refused value).
        Arguments the schema does not declare are left out (a narrower tool version).
    """
    properties = parameters.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    kept: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in args.items():
        schema = properties.get(key)
        if not isinstance(schema, dict):
            continue
        problem = value_problem(value, schema)
        if problem:
            problems.append(f"{key} {value!r} {problem}")
            continue
        kept[key] = value
    required = parameters.get("required")
    missing = [str(name) for name in (required if isinstance(required, list) else []) if name not in args]
    return kept, missing, problems
