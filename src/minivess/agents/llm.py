"""The LLM gateway: the embedded planner is called in-process; any other model goes through LiteLLM.

`minivess/planner` (the default) needs no network and no litellm import, so `minivess ask` starts fast. Any
other model string (`openai/gpt-4o`, `anthropic/claude-…`, `ollama/llama3`, a vLLM endpoint) loads
`agents/llm_litellm.py` (the only module that imports litellm), where the embedded planner is also registered
as the LiteLLM custom provider ``minivess`` and serves as the fallback.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from minivess.observability import get_tracer
from minivess.settings import Settings

logger = logging.getLogger(__name__)

EMBEDDED_PROVIDER = "minivess"
EMBEDDED_MODEL = "minivess/planner"


def approx_tokens(payload: Any) -> int:
    """The embedded planner has no tokenizer: count ~4 characters per token, as OpenAI's rule of thumb."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return max(1, len(text) // 4)


def embedded_reply(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The embedded planner's answer as (content, OpenAI tool calls)."""
    from minivess.agents.planner import plan_reply

    reply = plan_reply(messages, tools)
    calls = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in reply.tool_calls
    ]
    return reply.content, calls


@dataclass(frozen=True)
class LLMReply:
    """One assistant turn in OpenAI message form, with accounting."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


class LLMGateway:
    """Calls the configured model with timeout, retries and a fallback chain (configured → embedded planner)."""

    def __init__(self, settings: Settings, **completion_kwargs: Any) -> None:
        self.settings = settings
        self.model = settings.llm_model
        self.fallbacks = [m for m in settings.llm_fallbacks if m != self.model]
        self.timeout = settings.llm_timeout_s
        self.retries = settings.llm_retries
        self.extra = completion_kwargs

    @property
    def uses_litellm(self) -> bool:
        """False when only the embedded planner can answer (no litellm import needed)."""
        return self.model != EMBEDDED_MODEL or bool(self.fallbacks) or bool(self.extra)

    def complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        name: str = "llm",
        metadata: dict[str, Any] | None = None,
    ) -> LLMReply:
        """One completion, traced as a Langfuse generation (model, prompt, output, tokens, cost, latency).

        Args:
            messages: The conversation in OpenAI form.
            tools: The tool schemas offered.
            name: The generation's name: the graph node calling (``supervisor``, ``analyst`` …), else ``llm``.
            metadata: More metadata for the generation (a node's step count or task).
        """
        with get_tracer(self.settings).observe(
            name,
            as_type="generation",
            model=self.model,
            input=messages,
            model_parameters={"timeout_s": self.timeout, "retries": self.retries},
            metadata={
                **(metadata or {}),
                "tools": [t["function"]["name"] for t in tools or []],
                **({"fallbacks": self.fallbacks} if self.fallbacks else {}),
            },
        ) as generation:
            tic = time.perf_counter()
            reply = self._litellm(messages, tools, tic) if self.uses_litellm else self._embedded(messages, tools, tic)
            # Latency is the generation's duration; the model is set again only when another answered (a fallback).
            other_model = reply.model != self.model
            generation.update(
                output=reply.as_message(),
                model=reply.model if other_model else None,
                usage={"input": reply.prompt_tokens, "output": reply.completion_tokens},
                cost_usd=reply.cost_usd,
                metadata={"requested_model": self.model} if other_model else None,
            )
        return reply

    def _embedded(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tic: float) -> LLMReply:
        content, calls = embedded_reply(messages, tools)
        return LLMReply(
            content=content,
            tool_calls=calls,
            model=EMBEDDED_MODEL,
            prompt_tokens=approx_tokens(messages),
            completion_tokens=approx_tokens([content or "", [c["function"]["arguments"] for c in calls]]),
            cost_usd=0.0,
            latency_s=time.perf_counter() - tic,
        )

    def _litellm(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, tic: float) -> LLMReply:
        from minivess.agents import llm_litellm

        kwargs: dict[str, Any] = {"timeout": self.timeout, "num_retries": self.retries, **self.extra}
        if tools:
            kwargs["tools"] = tools
        if self.fallbacks:
            kwargs["fallbacks"] = self.fallbacks
        response, cost = llm_litellm.completion(self.model, messages, **kwargs)
        return _reply(response, cost, time.perf_counter() - tic)


def _reply(response: Any, cost: float, latency: float) -> LLMReply:
    message = response.choices[0].message
    calls = [
        {
            "id": c.id,
            "type": "function",
            "function": {"name": c.function.name, "arguments": c.function.arguments or "{}"},
        }
        for c in (message.tool_calls or [])
    ]
    usage = getattr(response, "usage", None)
    return LLMReply(
        content=message.content,
        tool_calls=calls,
        model=str(response.model),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost,
        latency_s=latency,
    )
