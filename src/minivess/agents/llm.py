"""The LLM gateway: the only module that imports litellm.

Every model — the embedded planner included — is called through ``litellm.completion``, so the agent code
path is the same for `minivess/planner`, `openai/gpt-4o`, `anthropic/claude-…`, `ollama/llama3` or a vLLM
endpoint. The embedded planner is registered as the LiteLLM custom provider ``minivess``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from minivess.observability import get_tracer
from minivess.settings import Settings

logger = logging.getLogger(__name__)

EMBEDDED_PROVIDER = "minivess"
EMBEDDED_MODEL = "minivess/planner"

# litellm fetches a model cost map from the internet at import unless told otherwise (STACK-NOTES).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "WARNING")

import litellm  # noqa: E402  (the environment above must be set before this import)
from litellm.llms.custom_llm import CustomLLM  # noqa: E402
from litellm.types.utils import ChatCompletionMessageToolCall, Choices, Function, Message, ModelResponse, Usage  # noqa: E402

logging.getLogger("LiteLLM").setLevel(logging.WARNING)
litellm.suppress_debug_info = True


def _approx_tokens(payload: Any) -> int:
    """The embedded planner has no tokenizer: count ~4 characters per token, as OpenAI's rule of thumb."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return max(1, len(text) // 4)


class EmbeddedPlanner(CustomLLM):
    """LiteLLM custom provider wrapping the deterministic planner (`minivess.agents.planner`)."""

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        from minivess.agents.planner import plan_reply

        optional = kwargs.get("optional_params") or {}
        model_response: ModelResponse = kwargs.get("model_response") or ModelResponse()
        reply = plan_reply(list(messages), optional.get("tools"))
        calls = [
            ChatCompletionMessageToolCall(
                id=c.id, type="function", function=Function(name=c.name, arguments=c.arguments)
            )
            for c in reply.tool_calls
        ]
        message = Message(role="assistant", content=reply.content, tool_calls=calls or None)
        model_response.choices = [Choices(index=0, finish_reason="tool_calls" if calls else "stop", message=message)]
        prompt_tokens = _approx_tokens(messages)
        completion_tokens = _approx_tokens([reply.content or "", [c.arguments for c in reply.tool_calls]])
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        model_response.model = model
        return model_response

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        return self.completion(model, messages, *args, **kwargs)


_EMBEDDED = EmbeddedPlanner()


def register_provider(provider: str, handler: CustomLLM) -> None:
    """Register a LiteLLM custom provider (idempotent); tests register scripted fakes this way."""
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != provider]
    litellm.custom_provider_map.append({"provider": provider, "custom_handler": handler})
    # litellm copies the map into its provider list lazily; refresh it so the new provider resolves.
    litellm.utils.custom_llm_setup()


register_provider(EMBEDDED_PROVIDER, _EMBEDDED)


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

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> LLMReply:
        """One completion, traced as a Langfuse generation (model, prompt, output, tokens, cost, latency)."""
        kwargs: dict[str, Any] = {"timeout": self.timeout, "num_retries": self.retries, **self.extra}
        if tools:
            kwargs["tools"] = tools
        if self.fallbacks:
            kwargs["fallbacks"] = self.fallbacks
        with get_tracer(self.settings).observe(
            "llm",
            as_type="generation",
            model=self.model,
            input=messages,
            model_parameters={"timeout_s": self.timeout, "retries": self.retries},
            metadata={"tools": [t["function"]["name"] for t in tools or []], "fallbacks": self.fallbacks},
        ) as generation:
            tic = time.perf_counter()
            response = litellm.completion(model=self.model, messages=messages, **kwargs)
            reply = _reply(response, time.perf_counter() - tic)
            generation.update(
                output=reply.as_message(),
                model=reply.model,
                usage={"input": reply.prompt_tokens, "output": reply.completion_tokens},
                cost_usd=reply.cost_usd,
                metadata={"latency_s": round(reply.latency_s, 3), "requested_model": self.model},
            )
        return reply


def _reply(response: Any, latency: float) -> LLMReply:
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
    try:
        cost = float(litellm.completion_cost(completion_response=response))
    except Exception:
        logger.debug("no price known for %s", response.model)
        cost = 0.0
    return LLMReply(
        content=message.content,
        tool_calls=calls,
        model=str(response.model),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cost_usd=cost,
        latency_s=latency,
    )
