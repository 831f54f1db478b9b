"""A scripted fake LLM: a LiteLLM custom provider that replays queued replies (tool calls or text)."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from litellm import CustomLLM
from litellm.types.utils import ChatCompletionMessageToolCall, Choices, Function, Message, ModelResponse, Usage

from minivess.agents.llm_litellm import register_provider

PROVIDER = "scripted"
MODEL = "scripted/fake"


def call(tool_name: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool_name, "arguments": arguments}


class ScriptedLLM(CustomLLM):
    """Each completion pops the next scripted reply: a str (text) or a list of calls (see `call`)."""

    def __init__(self) -> None:
        super().__init__()
        self.script: deque[str | list[dict[str, Any]]] = deque()
        self.seen: list[dict[str, Any]] = []  # what each call received: messages and offered tool names

    def queue(self, *replies: str | list[dict[str, Any]]) -> None:
        self.script.extend(replies)

    def completion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        tools = (kwargs.get("optional_params") or {}).get("tools") or []
        self.seen.append({"messages": list(messages), "tools": [t["function"]["name"] for t in tools]})
        if not self.script:
            raise AssertionError("the scripted LLM ran out of replies")
        reply = self.script.popleft()
        response: ModelResponse = kwargs.get("model_response") or ModelResponse()
        if isinstance(reply, str):
            message = Message(role="assistant", content=reply)
        else:
            calls = [
                ChatCompletionMessageToolCall(
                    id=f"call_{len(self.seen)}_{i}",
                    type="function",
                    function=Function(name=c["name"], arguments=json.dumps(c["arguments"])),
                )
                for i, c in enumerate(reply)
            ]
            message = Message(role="assistant", content=None, tool_calls=calls)
        response.choices = [Choices(index=0, finish_reason="stop", message=message)]
        response.usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)  # type: ignore[attr-defined]
        response.model = model
        return response

    async def acompletion(self, model: str, messages: list[Any], *args: Any, **kwargs: Any) -> ModelResponse:
        return self.completion(model, messages, *args, **kwargs)


def install() -> ScriptedLLM:
    fake = ScriptedLLM()
    register_provider(PROVIDER, fake)
    return fake
