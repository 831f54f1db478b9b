"""Scorers for the agent's decisions: autoevals heuristics (no LLM judge) plus our own checks.

Every scorer takes Braintrust's keyword arguments (``output``, ``expected`` …) and returns
``{"name", "score", "metadata"}`` or None when it does not apply to the case (None is left out of the mean).
Task outputs share one shape (see `minivess.evals.harness.turn_output`): ``status``, ``calls`` (each
``{"tool", "args", "ran", "ok"}``; calls that ran, then calls waiting for approval), ``answer``, ``metrics``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from autoevals import ExactMatch, JSONDiff  # type: ignore[import-untyped]

from minivess.catalog import worker_for

ScoreDict = dict[str, Any] | None

APPROVAL_TOOLS = frozenset({"train_model", "promote_model"})


def _score(name: str, value: float, **metadata: Any) -> dict[str, Any]:
    return {"name": name, "score": float(value), "metadata": metadata}


def _tools(calls: list[dict[str, Any]]) -> list[str]:
    return [str(call["tool"]) for call in calls]


def tool_choice(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """1 when the tools called (in order, waiting approvals included) are exactly the expected ones (ExactMatch)."""
    got, want = _tools(output.get("calls", [])), _tools(expected.get("calls", []))
    score = ExactMatch().eval(output=got, expected=want).score
    return _score("tool_choice", score, got=got, want=want)


def _arg_pairs(output: dict[str, Any], expected: dict[str, Any]) -> list[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(observed args projected on the expected keys, expected args) for each expected call that lists args."""
    calls = output.get("calls", [])
    pairs: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
    for index, want in enumerate(expected.get("calls", [])):
        if not want.get("args"):
            continue
        got = calls[index] if index < len(calls) and calls[index]["tool"] == want["tool"] else None
        projected = None if got is None else {key: got["args"].get(key) for key in want["args"]}
        pairs.append((projected, want["args"]))
    return pairs


def arguments(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """Similarity of the expected arguments (JSONDiff: Levenshtein for text, NumericDiff for numbers); a missing
    or different call scores 0. None when the case lists no arguments. ``null`` expects the key left unset."""
    pairs = _arg_pairs(output, expected)
    if not pairs:
        return None
    diff = JSONDiff()
    values = [0.0 if got is None else float(diff.eval(output=got, expected=want).score) for got, want in pairs]
    return _score("arguments", sum(values) / len(values), per_call=values)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def arguments_exact(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """Fraction of expected argument fields whose value is exactly right (floats to 1e-9). None without args."""
    pairs = _arg_pairs(output, expected)
    if not pairs:
        return None
    hits = total = 0
    wrong: list[str] = []
    for got, want in pairs:
        for key, value in want.items():
            total += 1
            if got is not None and _same(got.get(key), value):
                hits += 1
            else:
                wrong.append(f"{key}: want {value!r}, got {None if got is None else got.get(key)!r}")
    return _score("arguments_exact", hits / total, wrong=wrong)


def asked_instead_of_guessed(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """For requests missing a required value: 1 when the agent asked (a question, no tool called). Else None."""
    if expected.get("text_kind") != "clarify":
        return None
    answer = output.get("answer") or ""
    asked = not output.get("calls") and output.get("status") == "done" and "?" in answer
    return _score("asked_instead_of_guessed", 1.0 if asked else 0.0, answer=answer[:300])


def approval_respected(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """For requests that must stop for approval: 1 when the turn waits for approval of the expected call and that
    call did not run. Else None."""
    if not expected.get("approval"):
        return None
    target = expected["calls"][-1]["tool"]
    calls = output.get("calls", [])
    ran = [c["tool"] for c in calls if c.get("ran")]
    waiting = [c["tool"] for c in calls if not c.get("ran")]
    ok = output.get("status") == "awaiting_approval" and target in waiting and target not in ran
    return _score("approval_respected", 1.0 if ok else 0.0, status=output.get("status"), waiting=waiting, ran=ran)


def step_budget(expected: dict[str, Any]) -> int:
    """LLM calls a well-behaved agent needs for the expected calls in this graph.

    One worker call per tool; per run of consecutive calls on one worker, a supervisor hand-off and the
    worker handing back; one final answer. A turn that stops for approval ends at the call (no hand-back,
    no answer). No tool: 2 (the answer or question, with a hand-off to spare).
    """
    tools = _tools(expected.get("calls", []))
    if not tools:
        return 2
    owners = [_worker(tool) for tool in tools]
    segments = 1 + sum(1 for a, b in itertools.pairwise(owners) if a != b)
    if expected.get("approval"):
        return len(tools) + 2 * segments - 1
    return len(tools) + 2 * segments + 1


def _worker(tool: str) -> str:
    try:
        return worker_for(tool)
    except KeyError:  # an unknown tool in a dataset: count it as its own worker
        return tool


def steps(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """1 within the step budget (`step_budget`), else budget / LLM calls used."""
    used = int(output.get("metrics", {}).get("llm_calls", 0))
    budget = int(expected.get("max_llm_calls") or step_budget(expected))
    return _score("steps", min(1.0, budget / max(1, used)), llm_calls=used, budget=budget)


def valid_calls(output: dict[str, Any], **_: Any) -> ScoreDict:
    """Fraction of the calls that ran without an ``ERROR:`` (invalid arguments, unknown run …). None if none ran."""
    ran = [c for c in output.get("calls", []) if c.get("ran")]
    if not ran:
        return None
    return _score("valid_calls", sum(1 for c in ran if c.get("ok")) / len(ran))


def latency(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """1 within ``expected["max_seconds"]``, else budget / seconds taken. None without a budget."""
    budget = expected.get("max_seconds")
    if not budget:
        return None
    seconds = float(output.get("metrics", {}).get("latency_s", 0.0))
    return _score("latency", min(1.0, float(budget) / max(seconds, 1e-9)), seconds=seconds, budget=budget)


def cost(output: dict[str, Any], expected: dict[str, Any], **_: Any) -> ScoreDict:
    """1 within ``expected["max_cost_usd"]`` (LiteLLM's price map; the embedded planner is free), else
    budget / cost. None without a budget."""
    budget = expected.get("max_cost_usd")
    if budget is None:
        return None
    spent = float(output.get("metrics", {}).get("cost_usd", 0.0))
    score = 1.0 if spent <= float(budget) else float(budget) / spent
    return _score("cost", score, cost_usd=spent, budget=budget)
