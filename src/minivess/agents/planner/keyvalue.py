"""`key=value` requests ("leaderboard metric=val_nsd limit=20"): values for the tool's own argument names.

The argument names restate the tool schemas (the planner imports nothing of ours); a unit test checks that they
are exactly the schemas' property names and required lists. A key the tool does not have is left in the text,
so the accounting pass asks about it.
"""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner.lexicon import parse_number
from minivess.agents.planner.models import Step

# tool → (argument names, required names)
TOOL_ARGS: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    tool: (frozenset(names.split()), frozenset(required.split()))
    for tool, names, required in (
        (
            "train_model",
            "model epochs lr loss batch_size patch_size max_minutes dataset seed register_as device",
            "model",
        ),
        ("evaluate_run", "run_id split", "run_id"),
        ("predict_volume", "run_id input_path output_path risk_fnr uncertainty_path", "run_id input_path"),
        ("promote_model", "run_id alias model_name", "run_id"),
        ("synthesize_data", "n shape seed preset name label_noise", ""),
        ("dataset_info", "path", ""),
        ("leaderboard", "metric by_family limit", ""),
        ("compare_runs", "run_ids metrics", "run_ids"),
        ("get_run", "run_id", "run_id"),
        ("learning_curves", "run_ids metrics", "run_ids"),
        ("failure_summary", "", ""),
        ("param_effect", "param metric", "param"),
        ("query_runs", "sql max_rows", "sql"),
        ("describe_warehouse", "", ""),
        ("calibrate_run", "run_id", "run_id"),
        ("conformal_calibrate", "run_id alpha", "run_id"),
        ("build_ensemble", "run_ids top_k family strategy", ""),
        ("greedy_soup", "run_id", "run_id"),
        ("quality_gate", "run_id", "run_id"),
        ("find_label_issues", "dataset folds epochs top", ""),
        ("queue_for_review", "dataset top_k run_id", ""),
        ("review_status", "dataset", ""),
        ("import_reviews", "dataset", ""),
        ("start_search", "budget_minutes trials families epochs dataset", ""),
        ("search_status", "search_id", ""),
        ("model_card", "model", ""),
        ("check_drift", "current reference model", "current"),
    )
}
# (tool, argument) → the values its schema allows (restated like TOOL_ARGS; a unit test checks them against the
# schemas' enums), so "split=holdout" is asked about instead of handed to the tool.
CHOICES: Final[dict[tuple[str, str], frozenset[str]]] = {
    ("train_model", "model"): frozenset({"segresnet", "swinunetr", "dynunet"}),
    ("train_model", "loss"): frozenset({"dice_ce", "dice_ce_cldice"}),
    ("evaluate_run", "split"): frozenset({"train", "val", "test"}),
    ("promote_model", "alias"): frozenset({"champion", "challenger"}),
    ("synthesize_data", "preset"): frozenset({"default", "small", "minivess", "shifted", "noisy_labels"}),
    ("build_ensemble", "family"): frozenset({"segresnet", "swinunetr", "dynunet"}),
    ("build_ensemble", "strategy"): frozenset({"mean", "vote", "weighted"}),
}
_PAIR: Final = re.compile(
    r"(?<![\w.])(?P<key>[A-Za-z_][\w.]*)\s*=\s*(?P<value>\[[^\]]*\]|\"[^\"]*\"|'[^']*'|\d+(?:\s*[,x×]\s*\d+)+\b|[^\s,;]+)"
)
_LISTS: Final = frozenset({"run_ids", "metrics", "patch_size", "shape", "families"})
_TEXT: Final = frozenset({"run_id", "input_path", "output_path", "dataset", "path", "name", "model_name", "param",
                          "register_as", "sql", "metric", "model", "loss", "alias", "preset", "split", "family",
                          "strategy", "uncertainty_path", "current", "reference", "device"})  # fmt: skip


def pairs(clause: str) -> dict[str, str]:
    """The ``key=value`` pairs written in a clause (later ones win)."""
    return {m.group("key"): _closed(m.group("value")).strip("\"'") for m in _PAIR.finditer(clause)}


def only_tool(clause: str) -> str | None:
    """The one tool whose argument names cover every ``key=value`` key written ("preset=minivess n=24"), or None."""
    keys = set(pairs(clause))
    tools = [tool for tool, (names, _) in TOOL_ARGS.items() if keys and keys <= names]
    return tools[0] if len(tools) == 1 else None


def _closed(value: str) -> str:
    """A value without the bracket or stop that closes the sentence around it ("(top_k=3)" is 3)."""
    while value[-1:] in ").!?" and value.count("(") < value.count(")") + (value[-1:] != ")"):
        value = value[:-1]
    return value


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    word = parse_number(text) if re.fullmatch(r"[A-Za-z-]+", text) else None  # "n=six", "epochs=twenty-five"
    if word is not None and word == int(word):
        return int(word)
    return text


def coerce(key: str, raw: str) -> Any:
    """A written value as the type its argument takes (numbers, booleans, lists of sizes or names)."""
    if key in _LISTS:
        items = [item for item in re.split(r"[\s,x×*\[\]]+", raw) if item]
        return [_number(item) for item in items] if key in ("patch_size", "shape") else items
    if key in _TEXT:
        return raw
    if raw.lower() in ("true", "yes", "on"):
        return True
    if raw.lower() in ("false", "no", "off"):
        return False
    return _number(raw)


# Short keys people type for an argument ("run=last" is run_id=last, "runs=[a,b]" run_ids), where the tool has it
_SHORT_KEYS: Final = {"run": "run_id", "runs": "run_ids"}


def tool_values(clause: str, tool: str) -> dict[str, Any]:
    """The clause's ``key=value`` pairs that name arguments of ``tool`` (or their short keys), typed."""
    names = TOOL_ARGS.get(tool, (frozenset(), frozenset()))[0]
    found = {
        _SHORT_KEYS.get(key, key) if _SHORT_KEYS.get(key) in names else key: raw for key, raw in pairs(clause).items()
    }
    return {key: coerce(key, raw) for key, raw in found.items() if key in names}


def invalid_choice(tool: str, values: dict[str, Any]) -> tuple[str, str, frozenset[str]] | None:
    """(argument, value, allowed) for the first written value its argument does not allow, or None."""
    for key, value in values.items():
        allowed = CHOICES.get((tool, key))
        if allowed is not None and isinstance(value, str) and value not in allowed:
            return key, value, allowed
    return None


def complete_step(clause: str, tool: str) -> Step | None:
    """A step built from ``key=value`` pairs alone, when they give every required argument of ``tool``."""
    values = tool_values(clause, tool)
    required = TOOL_ARGS.get(tool, (frozenset(), frozenset()))[1]
    return Step(tool, values) if values and required <= set(values) else None
