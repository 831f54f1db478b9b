"""The tool contract: pydantic args in, pydantic result out, docstring = what the model reads."""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from minivess.errors import ToolInputError
from minivess.settings import Settings

logger = logging.getLogger(__name__)

ArgsT = TypeVar("ArgsT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)
Progress = Callable[[dict[str, Any]], None]


@dataclass
class ToolContext:
    """What a tool may use besides its arguments: settings and a progress sink (the CLI or a stream)."""

    settings: Settings
    progress: Progress = field(default=lambda event: None)


@dataclass(frozen=True)
class Tool(Generic[ArgsT, ResultT]):
    """One LLM-callable function. `description` is the function's docstring."""

    name: str
    args_model: type[ArgsT]
    result_model: type[ResultT]
    func: Callable[[ArgsT, ToolContext], ResultT]
    description: str
    compute_minutes: Callable[[ArgsT], float] = lambda args: 0.0
    needs_approval: Callable[[ArgsT, ToolContext], str | None] = lambda args, ctx: None
    pin: Callable[[ArgsT, ToolContext], dict[str, str | None]] = lambda args, ctx: {}
    makes_runs: bool = False  # logs new MLflow runs: 'last' means another run after it has run

    def schema(self) -> dict[str, Any]:
        """The OpenAI `tools` entry for this tool (a fresh dict: the caller may change it)."""
        loaded: dict[str, Any] = json.loads(_schema_json(self.name, self.description, self.args_model))
        return loaded

    def parse(self, raw: str | dict[str, Any] | None) -> ArgsT:
        """Validate model-written arguments; mistakes become ToolInputError with every problem listed."""
        try:
            data = json.loads(raw) if isinstance(raw, str) else (raw or {})
        except json.JSONDecodeError as exc:
            raise ToolInputError(f"{self.name}: arguments are not valid JSON ({exc.msg}); send a JSON object.") from exc
        if not isinstance(data, dict):
            raise ToolInputError(f"{self.name}: arguments must be a JSON object, got {type(data).__name__}.")
        try:
            return self.args_model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolInputError(f"{self.name}: invalid arguments — {problems}.") from exc

    def run(self, args: ArgsT, ctx: ToolContext) -> ResultT:
        return self.func(args, ctx)


@functools.lru_cache(maxsize=256)
def _schema_json(name: str, description: str, args_model: type[BaseModel]) -> str:
    """A tool's OpenAI entry as JSON, built once per tool: pydantic's schema generation costs ~1 ms per tool and
    every worker LLM call offers a dozen tools; decoding the JSON is ~20x cheaper and keeps callers' copies apart
    (shared by copies of a tool made with `dataclasses.replace`, e.g. the eval harness's stubs)."""
    parameters = args_model.model_json_schema()
    parameters.pop("title", None)
    entry = {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}
    return json.dumps(entry)


def tool(
    name: str,
    args_model: type[ArgsT],
    result_model: type[ResultT],
    *,
    compute_minutes: Callable[[ArgsT], float] | None = None,
    needs_approval: Callable[[ArgsT, ToolContext], str | None] | None = None,
    pin: Callable[[ArgsT, ToolContext], dict[str, str | None]] | None = None,
    makes_runs: bool = False,
) -> Callable[[Callable[[ArgsT, ToolContext], ResultT]], Tool[ArgsT, ResultT]]:
    """Decorator: the function's docstring becomes the description; every arg field must be described.

    `pin` names the arguments whose meaning moves with time ('last', 'best', 'champion') and what they mean now:
    ``{field: concrete value}``, None for one that names nothing yet. The approval gate asks about, and runs, the
    pinned call, so a yes given hours later approves what the question showed. `makes_runs` marks a tool that logs
    new runs: a reference in a later call of the same batch is left to mean the run it makes.
    """

    def wrap(func: Callable[[ArgsT, ToolContext], ResultT]) -> Tool[ArgsT, ResultT]:
        doc = inspect.getdoc(func)
        if not doc:
            raise TypeError(f"tool {name} needs a docstring: it is the description the model reads")
        undocumented = [f for f, info in args_model.model_fields.items() if not info.description]
        if undocumented:
            raise TypeError(f"tool {name}: describe every argument (missing: {', '.join(undocumented)})")
        if args_model.model_config.get("extra") != "forbid":
            raise TypeError(f"tool {name}: {args_model.__name__} must set extra='forbid'")
        return Tool(
            name=name,
            args_model=args_model,
            result_model=result_model,
            func=func,
            description=doc,
            compute_minutes=compute_minutes or (lambda args: 0.0),
            needs_approval=needs_approval or (lambda args, ctx: None),
            pin=pin or (lambda args, ctx: {}),
            makes_runs=makes_runs,
        )

    return wrap


class ToolRegistry:
    """Tools by name, and the OpenAI schemas of any subset."""

    def __init__(self, tools: Iterable[Tool[Any, Any]]) -> None:
        self._tools: dict[str, Tool[Any, Any]] = {}
        for item in tools:
            if item.name in self._tools:
                raise ValueError(f"duplicate tool name {item.name}")
            self._tools[item.name] = item

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool[Any, Any]:
        if name not in self._tools:
            raise ToolInputError(f"there is no tool '{name}'; available: {', '.join(sorted(self._tools))}.")
        return self._tools[name]

    def names(self) -> list[str]:
        return list(self._tools)

    def schemas(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        chosen = self._tools if names is None else [n for n in names]
        return [self.get(n).schema() for n in chosen]
