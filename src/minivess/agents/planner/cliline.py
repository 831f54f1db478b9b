"""Requests typed as a command line ("minivess search start -b 45 -n 10 -f dynunet"): read as that tool's call.

The command becomes the tool's own name and its positional arguments and flags ``key=value`` pairs of the tool's
argument names ("start_search budget_minutes=45 trials=10 families=dynunet"), which the key=value path reads and
the accounting pass checks like any typed value. A flag the command does not map keeps its name with ``_`` for
``-`` ("--batch-size 2" → "batch_size=2"): an argument of the tool is used, anything else is asked about. The
commands and flags restate the CLI's (the planner imports nothing of ours); a unit test checks them against it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True)
class Command:
    """One CLI command that is a tool: its positional arguments and its flags, as the tool's argument names."""

    tool: str
    positional: tuple[str, ...] = ()  # the last one takes every remaining word when it is a list (run_ids)
    flags: dict[str, str] = field(default_factory=dict)  # "-b" / "--budget-minutes" → "budget_minutes"


COMMANDS: Final[dict[str, Command]] = {
    "train": Command("train_model", flags={"--set": "set", "-s": "set"}),
    "evaluate": Command("evaluate_run", ("run_id",), {"--split": "split"}),
    "predict": Command(
        "predict_volume",
        ("run_id", "input_path"),
        {"--out": "output_path", "-o": "output_path", "--uncertainty": "uncertainty_path", "--risk-fnr": "risk_fnr"},
    ),
    "calibrate": Command("calibrate_run", ("run_id",)),
    "conformal": Command("conformal_calibrate", ("run_id",), {"--alpha": "alpha", "-a": "alpha"}),
    "ensemble": Command(
        "build_ensemble", ("run_ids",), {"--strategy": "strategy", "--top": "top_k", "--family": "family"}
    ),
    "soup": Command("greedy_soup", ("run_id",)),
    "gate": Command("quality_gate", ("run_id",)),
    "card": Command("model_card", ("model",)),
    "data synth": Command(
        "synthesize_data",
        flags={
            "--out": "name",
            "-o": "name",
            "--n": "n",
            "--shape": "shape",
            "--seed": "seed",
            "--preset": "preset",
            "--label-noise": "label_noise",
        },
    ),
    "data info": Command("dataset_info", ("path",)),
    "data drift": Command("check_drift", ("reference", "current"), {"--model": "model"}),
    "labels find": Command(
        "find_label_issues", ("dataset",), {"--folds": "folds", "--epochs": "epochs", "--top": "top"}
    ),
    "labels queue": Command("queue_for_review", ("dataset",), {"--top": "top_k", "-k": "top_k", "--run": "run_id"}),
    "labels status": Command("review_status", ("dataset",)),
    "labels import": Command("import_reviews", ("dataset",)),
    "runs leaderboard": Command(
        "leaderboard",
        flags={"--metric": "metric", "-m": "metric", "--limit": "limit", "-n": "limit", "--by": "by_family"},
    ),
    "runs compare": Command("compare_runs", ("run_ids",), {"--metric": "metrics", "-m": "metrics"}),
    "runs curves": Command("learning_curves", ("run_ids",), {"--metric": "metrics", "-m": "metrics"}),
    "runs sql": Command("query_runs", ("sql",), {"--limit": "max_rows", "-n": "max_rows"}),
    "runs schema": Command("describe_warehouse"),
    "runs effect": Command("param_effect", ("param",), {"--metric": "metric", "-m": "metric"}),
    "runs failures": Command("failure_summary"),
    "search start": Command(
        "start_search",
        flags={
            "--budget-minutes": "budget_minutes",
            "-b": "budget_minutes",
            "--trials": "trials",
            "-n": "trials",
            "--families": "families",
            "-f": "families",
            "--epochs": "epochs",
            "--dataset": "dataset",
        },
    ),
    "search status": Command("search_status", ("search_id",)),
}
_LISTS: Final = frozenset({"run_ids", "families", "metrics"})
# Values a flag spells differently from the tool: "--by none" is by_family=false.
_VALUES: Final[dict[tuple[str, str], str]] = {("by_family", "none"): "false", ("by_family", "family"): "true"}
_TRANSLATED: Final = frozenset(key for key, _ in _VALUES)
# `minivess train --set trainer.epochs=25`: the config keys train_model's arguments set (tools/training.py).
CONFIG_KEYS: Final[dict[str, str]] = {
    "model.name": "model",
    "trainer.epochs": "epochs",
    "optim.lr": "lr",
    "loss.name": "loss",
    "trainer.batch_size": "batch_size",
    "trainer.max_minutes": "max_minutes",
    "data.dir": "dataset",
    "trainer.seed": "seed",
    "tracking.register_as": "register_as",
    "data.patch_size": "patch_size",
    "trainer.device": "device",
}
# Flags that only change how the CLI prints: they mean nothing to the tool.
_PRESENTATION: Final = frozenset({"--json", "--format", "-f", "--output", "-o", "--no-sync", "--no-mip"})
_LINE: Final = re.compile(r"^\s*(?:\$\s*)?`?\s*minivess\s+(?P<rest>.+?)`?\s*$", re.I | re.S)
# What may follow a command line: a shell comment ("# then promote it"), an aside ("(agent, please)") or words after
# a backticked command ("`minivess calibrate X` - do that from here"). Courtesy is dropped; anything else stays
# after the call, read like any words of the request ("… then promote it", "… with cldice loss"), never lost.
_AFTER_TICK: Final = re.compile(r"^\s*(?:\$\s*)?`\s*(?P<command>minivess\s+[^`]+)`(?P<remark>.*)$", re.I | re.S)
_HASH: Final = re.compile(r"\s#(?P<remark>.*)$", re.S)
_ASIDE: Final = re.compile(r"\s\((?P<remark>[^()]*)\)\s*[.!?]?\s*$")
_COURTESY: Final = re.compile(
    r"^(?:[\s,.;:!?()-]|\bagent\b|\bplease\b|\bpls\b|\bthanks\b|\bthank\s+you\b|\b(?:do|run)\s+(?:that|it|this)\b"
    r"|\bfrom\s+here\b|\bfor\s+me\b|\bnow\b)*$",
    re.I,
)
_FLAG: Final = re.compile(r"^--?[A-Za-z][\w-]*$")
# "synthesize -n 16 --shape 64 64 32": a command typed without "minivess", known by its flags; the verbs users type
# for a command whose CLI name is two words
_VERBS: Final[dict[str, str]] = {"synthesize": "data synth", "synthesise": "data synth", "synth": "data synth"}
_MULTI_VALUE: Final = frozenset({"shape", "patch_size"})  # "--shape 64 64 32": one flag, three numbers
_NUMBER: Final = re.compile(r"^-?\d")


def rewrite_command_line(text: str) -> str:
    """``text`` as the tool call it types when it is a minivess command line of a tool, else ``text`` unchanged."""
    command_text, remark = _split_remark(text)
    call = _rewrite(command_text)
    if call is None:
        return text
    remark = remark.strip()
    return f"{call} {remark}" if remark and not _COURTESY.match(remark) else call


def _split_remark(text: str) -> tuple[str, str]:
    """(the command part, what follows it) for a backticked command, a shell comment or a closing aside."""
    tick = _AFTER_TICK.match(text)
    if tick is not None:
        return tick.group("command"), tick.group("remark")
    for pattern in (_HASH, _ASIDE):
        found = pattern.search(text)
        if found is not None:
            return text[: found.start()], found.group("remark")
    return text, ""


def _rewrite(text: str) -> str | None:
    """The tool call a command line types, or None when ``text`` is no command line of a tool."""
    words = _command_words(text)
    if words is None:
        return None
    name = " ".join(words[:2]) if " ".join(words[:2]).lower() in COMMANDS else words[0] if words else ""
    command = COMMANDS.get(name.lower())
    if command is None:
        return None
    values: dict[str, list[str]] = {}
    positional: list[str] = []
    rest = words[len(name.split()) :]
    index = 0
    while index < len(rest):
        word = rest[index]
        if _FLAG.match(word) and not _NUMBER.match(word):
            key = command.flags.get(word) or ("" if word in _PRESENTATION else word.lstrip("-").replace("-", "_"))
            has_value = index + 1 < len(rest) and (
                not rest[index + 1].startswith("-") or _NUMBER.match(rest[index + 1])
            )
            if key == "set" and has_value and command.tool == "train_model" and "=" in rest[index + 1]:
                key, _, value = rest[index + 1].partition("=")  # "--set trainer.epochs=25": that argument
                values.setdefault(CONFIG_KEYS.get(key, key), []).append(value)
            elif key in _MULTI_VALUE and has_value:
                count = 0
                while index + 1 + count < len(rest) and _NUMBER.match(rest[index + 1 + count]):
                    count += 1
                values.setdefault(key, []).extend(rest[index + 1 : index + 1 + count])
                index += 1 + count
                continue
            elif key and has_value:
                value = rest[index + 1]
                if key in _TRANSLATED and (key, value.lower()) not in _VALUES:
                    key = word.lstrip("-")  # "--by model": no value the tool has, asked about under the flag's name
                values.setdefault(key, []).append(_VALUES.get((key, value.lower()), value))
            elif key:
                values.setdefault(key, []).append("true")  # "--by-family": a switch
            index += 2 if has_value else 1
            continue
        positional.append(word)
        index += 1
    taken = _positional_values(command, positional)
    if taken is None:
        return None  # "minivess evaluate the champion on test": words, not the command's arguments
    for key, items in taken.items():
        values.setdefault(key, []).extend(items)
    parts = [command.tool] + [_pair(key, items) for key, items in values.items()]
    return " ".join(parts if command.positional else parts + positional)


def _command_words(text: str) -> list[str] | None:
    """The words after "minivess", or of a line that starts with a command and has flags; None if not a command."""
    line = _LINE.match(text)
    try:
        words = shlex.split(line.group("rest") if line else text)
    except ValueError:  # an unclosed quote: not a command line we can read
        return None
    if line is not None:
        return words
    if not words or not any(_FLAG.match(word) and not _NUMBER.match(word) for word in words[1:]):
        return None
    verb = _VERBS.get(words[0].lower())
    if verb is not None:
        return [*verb.split(), *words[1:]]
    known = " ".join(words[:2]).lower() in COMMANDS or words[0].lower() in COMMANDS
    return words if known else None


def _positional_values(command: Command, words: list[str]) -> dict[str, list[str]] | None:
    """The positional words under their argument names; None when they are not what the command takes (more words
    than arguments, or a word that cannot be its argument, e.g. "the" as a run id)."""
    if not command.positional:
        return {}  # "minivess train segresnet for 5 epochs": the words stay for the builder to read
    last = command.positional[-1]
    if len(words) > len(command.positional) and last not in _LISTS:
        return None
    taken: dict[str, list[str]] = {}
    for position, key in enumerate(command.positional):
        items = words[position:] if key == last and key in _LISTS else words[position : position + 1]
        if not all(_fits(key, item) for item in items):
            return None
        if items:
            taken[key] = items
    return taken


_RUN_WORD: Final = re.compile(
    r"^(?:[0-9a-f]{6,32}|champion|challenger|production|prod|last|latest|best(?::[\w:]*)?)$", re.I
)
_SEARCH_WORD: Final = re.compile(r"^(?:[A-Za-z]\w*-)?\d{8}-\d{4,6}(?:-[0-9a-f]{4})?$|^last$", re.I)
_NOT_A_VALUE: Final = frozenset({"the", "a", "an", "my", "our", "this", "that", "it", "on", "for", "with", "of", "to"})


def _fits(key: str, word: str) -> bool:
    """Whether ``word`` can be the positional argument ``key`` (a run reference, a search id, SQL, a path …)."""
    if key in ("run_id", "run_ids", "model"):
        return bool(_RUN_WORD.match(word))
    if key == "search_id":
        return bool(_SEARCH_WORD.match(word))
    if key == "sql":
        return word.lstrip("( ").lower().startswith(("select", "with"))
    return word.lower() not in _NOT_A_VALUE


def _pair(key: str, items: list[str]) -> str:
    """``key=value``, a list as ``key=[a,b]``; a value with spaces (SQL) quoted."""
    if len(items) > 1:
        return f"{key}=[{','.join(items)}]"
    return f'{key}="{items[0]}"' if re.search(r"[\s=,;]", items[0]) else f"{key}={items[0]}"
