"""The LiteLLM backend: the only module that imports litellm, loaded only when a non-embedded model is configured.

Every hosted or local model (`openai/…`, `anthropic/…`, `ollama/…`, a vLLM endpoint) goes through
``litellm.completion``. The embedded planner is registered as the LiteLLM custom provider ``minivess`` so it
can serve as a fallback (and so scripted test models plug in the same way).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from minivess.agents.llm import EMBEDDED_PROVIDER, approx_tokens, embedded_reply

# litellm fetches a model cost map from the internet at import unless told otherwise (STACK-NOTES).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "WARNING")

import litellm
from litellm.llms.custom_llm import CustomLLM
from litellm.types.utils import ChatCompletionMessageToolCall, Choices, Function, Message, ModelResponse, Usage

logger = logging.getLogger(__name__)
logging.getLogger("LiteLLM").setLevel(logging.WARNING)
litellm.suppress_debug_info = True


class EmbeddedPlanner(CustomLLM):
    """LiteLLM custom provider wrapping the deterministic planner (`minivess.agents.planner`)."""

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        optional = kwargs.get("optional_params") or {}
        model_response: ModelResponse = kwargs.get("model_response") or ModelResponse()
        content, tool_calls = embedded_reply(list(messages), optional.get("tools"))
        calls = [
            ChatCompletionMessageToolCall(
                id=c["id"],
                type="function",
                function=Function(name=c["function"]["name"], arguments=c["function"]["arguments"]),
            )
            for c in tool_calls
        ]
        message = Message(role="assistant", content=content, tool_calls=calls or None)
        model_response.choices = [Choices(index=0, finish_reason="tool_calls" if calls else "stop", message=message)]
        prompt_tokens = approx_tokens(messages)
        completion_tokens = approx_tokens([content or "", [c["function"]["arguments"] for c in tool_calls]])
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        model_response.model = model
        return model_response

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        return self.completion(model, messages, *args, **kwargs)


def register_provider(provider: str, handler: CustomLLM) -> None:
    """Register a LiteLLM custom provider (idempotent); tests register scripted fakes this way."""
    litellm.custom_provider_map = [p for p in litellm.custom_provider_map if p["provider"] != provider]
    litellm.custom_provider_map.append({"provider": provider, "custom_handler": handler})
    # litellm copies the map into its provider list lazily; refresh it so the new provider resolves.
    litellm.utils.custom_llm_setup()


register_provider(EMBEDDED_PROVIDER, EmbeddedPlanner())


def completion(model: str, messages: list[dict[str, Any]], **kwargs: Any) -> tuple[Any, float]:
    """One ``litellm.completion`` call and its cost in USD (0 when LiteLLM knows no price for the model)."""
    response = litellm.completion(model=model, messages=messages, **kwargs)
    try:
        cost = float(litellm.completion_cost(completion_response=response))
    except Exception:  # litellm raises assorted errors for models without a price entry
        logger.debug("no price known for %s", response.model)
        cost = 0.0
    return response, cost
