"""The planner's data types: its reply (pydantic, the public contract) and its internal plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

TextKind = Literal["clarify", "help", "cannot", "unknown"]


class PlannedCall(BaseModel):
    """One tool call the planner wants made (OpenAI `tool_calls` entry, flattened)."""

    id: str = Field(description="Deterministic call id: 'call_' + a short hash of (position, name, arguments).")
    name: str = Field(description="Tool name, one of the offered tools.")
    arguments: str = Field(description="JSON object string of the tool arguments.")


class PlannerReply(BaseModel):
    """What the planner answers: text, or tool calls (then content is None)."""

    content: str | None = Field(None, description="Text for the user, or a worker's hand-back note.")
    tool_calls: list[PlannedCall] = Field(default_factory=list, description="Empty when replying with text.")


@dataclass(frozen=True)
class StepOutput:
    """A placeholder argument: a value produced by an earlier step of the same plan (its run id, or the result
    field ``key`` names, e.g. the dataset_dir of the version import_reviews made)."""

    step: int
    key: str = "run_id"


@dataclass
class Step:
    """One tool call of a plan; argument values may hold StepOutput placeholders (or lists of them)."""

    tool: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Clarify:
    """A question for the user; `template` wraps a bare answer ("{} epochs") before it joins the request."""

    question: str
    template: str = "{}"
    at: int | None = None  # where in the clause the answer goes (default: the clause's end)
    span: tuple[int, int] | None = None  # the value asked about: the answer replaces it (clause offsets)
    number_only: bool = False  # the value's keyword stays in the request: only the answer's number replaces it


@dataclass
class Plan:
    """Either ordered tool steps, or one text outcome (a question, help, a refusal, or 'not understood')."""

    steps: list[Step] = field(default_factory=list)
    text: str | None = None
    text_kind: TextKind | None = None
    insert_at: int | None = None
    template: str = "{}"
    replace: tuple[int, int] | None = None  # a question about a written value: the answer replaces text[a:b]
    replace_number: bool = False  # …with the answer's number only (its keyword is still in the request)

    @property
    def is_text(self) -> bool:
        """True when the plan is a single text outcome rather than tool steps."""
        return self.text is not None


@dataclass
class ToolOutcome:
    """A domain tool's answer found in the conversation."""

    name: str
    status: Literal["ok", "error", "rejected"]
    text: str
    data: Any = None

    @property
    def failed(self) -> bool:
        """True for an ERROR or REJECTED answer."""
        return self.status != "ok"


@dataclass
class History:
    """What the conversation before a request tells the planner."""

    run_ids: list[str] = field(default_factory=list)  # run ids named by earlier tool results, oldest first
    last_train: dict[str, Any] | None = None  # the latest successful train_model's arguments ("train it again")
    last_tool: str | None = None  # the latest tool that answered ("now on the training split" continues it)
    review_dataset: str | None = None  # the dataset the review loop last worked on ("queue them for review")
    reviewed_dataset: str | None = None  # the version the latest import_reviews made ("train on the reviewed data")
    group: list[str] = field(default_factory=list)  # the runs of the latest answer about several ("plot both")
    run_labels: dict[str, str] = field(default_factory=dict)  # run id → what earlier answers showed of it
    dataset: str | None = None  # the folder the latest data tool made or described ("train segresnet on that")
    alpha: float | None = None  # the latest conformal alpha or prediction risk ("at the same risk level")
    last_args: dict[str, dict[str, Any]] = field(default_factory=dict)  # the latest arguments per tool
    search_id: str | None = None  # the search the latest search answer was about ("how is it going now?")
