"""The paraphrase set: every case in cases.jsonl gets the expected first tool call or text outcome.

cases.jsonl (one JSON object per line, reusable for evals):
    id: unique name; request: the user's message; history: optional earlier OpenAI messages;
    expect: either {"tool": name, "args": {key: value}} (the first call; only the listed keys are checked)
    or {"text_kind": "clarify" | "help" | "cannot" | "unknown"}; optional extras: "plan" (every step's tool,
    in order), "absent" (keys left to the tool's default), "contains" ({arg: [substrings]}, for SQL).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from minivess.agents.planner import current_plan, plan_reply
from minivess.tools.registry import REGISTRY
from tests.unit.agents.planner.support import ALL_TOOLS, SYSTEM, load_cases, record_call, user

CASES = load_cases()


def _messages(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [SYSTEM, *case.get("history", []), user(case["request"])]


def test_case_file_is_broad_and_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(CASES) >= 150
    assert len(set(ids)) == len(ids), "case ids must be unique"
    kinds = Counter(case["expect"].get("tool") or case["expect"]["text_kind"] for case in CASES)
    for tool in REGISTRY.names():
        assert kinds[tool] >= 1, f"no case expects {tool}"
    for kind in ("clarify", "help", "cannot", "unknown"):
        assert kinds[kind] >= 5, f"too few {kind} cases"
    for case in CASES:
        expect = case["expect"]
        assert set(case) <= {"id", "request", "history", "expect"}
        assert ("tool" in expect) != ("text_kind" in expect), case["id"]
        if "tool" in expect:
            REGISTRY.get(expect["tool"]).parse({**_required_placeholders(expect["tool"]), **expect["args"]})


def _required_placeholders(tool: str) -> dict[str, Any]:
    """Dummy values for required fields an expectation leaves out (only its own keys are checked)."""
    schema = REGISTRY.get(tool).schema()["function"]["parameters"]
    fills = {"run_id": "last", "input_path": "x.nii.gz", "run_ids": ["last", "best"], "param": "loss.name"}
    fills["sql"], fills["model"], fills["current"] = "SELECT 1", "segresnet", "data/new"
    return {key: fills[key] for key in schema.get("required", [])}


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case: dict[str, Any]) -> None:
    messages = _messages(case)
    reply = plan_reply(messages, ALL_TOOLS)
    expect = case["expect"]
    if "text_kind" in expect:
        assert not reply.tool_calls, f"expected {expect['text_kind']} text, got {reply.tool_calls}"
        assert reply.content
        assert current_plan(messages).text_kind == expect["text_kind"], reply.content
        return
    assert reply.content is None
    assert len(reply.tool_calls) == 1, reply.content
    call = reply.tool_calls[0]
    assert call.name == expect["tool"], f"got {call.name}({call.arguments})"
    args = json.loads(call.arguments)
    REGISTRY.get(call.name).parse(call.arguments)  # must validate against the real args model
    for key, value in expect["args"].items():
        assert key in args, f"missing {key} in {args}"
        expected = pytest.approx(value) if isinstance(value, float) else value
        assert args[key] == expected, (key, args)
    for key in expect.get("absent", []):
        assert key not in args, f"{key} should be left to the default: {args}"
    for key, parts in expect.get("contains", {}).items():
        for part in parts:
            assert part in args[key], f"{part!r} not in {args[key]!r}"
    if "plan" in expect:
        assert [step.tool for step in current_plan(messages).steps] == expect["plan"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_every_step_validates_and_the_plan_finishes(case: dict[str, Any]) -> None:
    """Run each case to the end with scripted results: every call parses, placeholders resolve, no loop."""
    messages = _messages(case)
    calls = 0
    reply = plan_reply(messages, ALL_TOOLS)
    while reply.tool_calls:
        call = reply.tool_calls[0]
        REGISTRY.get(call.name).parse(call.arguments)
        assert "StepOutput" not in call.arguments
        calls += 1
        assert calls <= 6, "the planner should not loop"
        record_call(messages, reply, {"run_id": f"{calls:032x}"})
        reply = plan_reply(messages, ALL_TOOLS)
    assert reply.content
    expected = len(current_plan(messages).steps)
    assert calls == expected
