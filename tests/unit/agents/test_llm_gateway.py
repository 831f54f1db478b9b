"""The LLM gateway: every model goes through litellm.completion; the embedded planner is a custom provider."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from minivess.agents.llm import EMBEDDED_MODEL, LLMGateway
from minivess.catalog import WORKER_TOOLS
from minivess.observability import get_tracer
from minivess.observability.models import ObservationRecord
from minivess.settings import Settings, get_settings
from minivess.tools.registry import REGISTRY
from tests.fakes import MODEL, ScriptedLLM, call

TRAIN = [{"role": "user", "content": "train a segresnet for 3 epochs"}]


def test_default_model_is_the_embedded_planner_and_returns_tool_calls() -> None:
    settings = get_settings()
    assert settings.llm_model == EMBEDDED_MODEL
    reply = LLMGateway(settings).complete(TRAIN, REGISTRY.schemas(WORKER_TOOLS["experimenter"]))
    assert [c["function"]["name"] for c in reply.tool_calls] == ["train_model"]
    assert json.loads(reply.tool_calls[0]["function"]["arguments"]) == {"model": "segresnet", "epochs": 3}
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert reply.cost_usd == 0.0


def test_one_setting_switches_the_model(scripted_llm: ScriptedLLM) -> None:
    scripted_llm.queue([call("leaderboard", metric="val_nsd")])
    reply = LLMGateway(get_settings()).complete(TRAIN, REGISTRY.schemas(WORKER_TOOLS["analyst"]))
    assert reply.model.endswith("fake") and MODEL.endswith(reply.model.split("/")[-1])
    assert reply.tool_calls[0]["function"]["name"] == "leaderboard"
    assert "leaderboard" in scripted_llm.seen[0]["tools"]


def test_a_failing_model_falls_back_to_the_embedded_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIVESS_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("MINIVESS_LLM_RETRIES", "0")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9")  # nothing listens: fails at once, offline
    reply = LLMGateway(get_settings()).complete(TRAIN, REGISTRY.schemas(WORKER_TOOLS["experimenter"]))
    assert reply.tool_calls[0]["function"]["name"] == "train_model"
    assert "planner" in reply.model


def _generation(settings: Settings, messages: list[dict[str, Any]]) -> ObservationRecord:
    """The one generation a traced `complete` call records."""
    tracer = get_tracer(settings)
    with tracer.trace("turn") as turn:
        LLMGateway(settings).complete(messages, REGISTRY.schemas(WORKER_TOOLS["experimenter"]))
    tracer.flush()
    assert turn.trace_id is not None
    (generation,) = [o for o in tracer.store.observations(turn.trace_id) if o.type == "generation"]
    return generation


def test_a_generation_names_the_model_once_and_the_requested_one_only_after_a_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = _generation(get_settings(), TRAIN)
    assert own.model == EMBEDDED_MODEL
    assert own.metadata["tools"] == list(WORKER_TOOLS["experimenter"])
    assert not {"requested_model", "fallbacks", "latency_s"} & own.metadata.keys()  # latency is the duration
    monkeypatch.setenv("MINIVESS_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("MINIVESS_LLM_RETRIES", "0")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9")  # nothing listens: the fallback answers
    fallback = _generation(get_settings(), TRAIN)
    assert fallback.model is not None and "planner" in fallback.model
    assert fallback.metadata["requested_model"] == "openai/gpt-4o-mini"
    assert fallback.metadata["fallbacks"] == [EMBEDDED_MODEL]


def test_litellm_mock_response_path_for_a_hosted_model_string(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hosted model string goes through LiteLLM's own OpenAI path (mocked by LiteLLM, no network)."""
    monkeypatch.setenv("MINIVESS_LLM_MODEL", "openai/gpt-4o-mini")
    monkeypatch.setenv("MINIVESS_LLM_FALLBACKS", "[]")
    reply = LLMGateway(get_settings(), mock_response="All done.").complete(TRAIN)
    assert reply.content == "All done."
    assert reply.model.startswith("gpt-4o-mini")


def test_the_embedded_planner_runs_without_importing_litellm() -> None:
    code = (
        "import sys, json; from minivess.agents.llm import LLMGateway; from minivess.settings import Settings; "
        "reply = LLMGateway(Settings(tracing=False)).complete([{'role': 'user', 'content': 'help'}]); "
        "print(json.dumps([reply.model, 'litellm' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [EMBEDDED_MODEL, False]


def test_the_embedded_planner_is_still_a_litellm_provider() -> None:
    """The same planner answers through LiteLLM (as a fallback, or when asked for by its provider string)."""
    import litellm

    from minivess.agents import llm_litellm

    response, cost = llm_litellm.completion(EMBEDDED_MODEL, TRAIN, tools=REGISTRY.schemas(WORKER_TOOLS["experimenter"]))
    assert isinstance(response, litellm.ModelResponse) and cost == 0.0
    assert response.choices[0].message.tool_calls[0].function.name == "train_model"
