"""Build the chat graph: intake → supervisor → worker → approval → tools → worker … → supervisor → END."""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from minivess.agents import nodes
from minivess.agents.approval import approval
from minivess.agents.execution import run_tools
from minivess.agents.llm import LLMGateway
from minivess.agents.state import ChatState, start_request
from minivess.catalog import WORKERS
from minivess.settings import Settings, get_settings
from minivess.tools.base import ToolRegistry
from minivess.tools.registry import REGISTRY


def build_chat_graph(
    settings: Settings | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    llm: LLMGateway | None = None,
    tools: ToolRegistry | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The supervisor graph; nodes route with `Command`, so only the entry edge is declared."""
    settings = settings or get_settings()
    deps = nodes.AgentDeps(settings=settings, llm=llm or LLMGateway(settings), tools=tools or REGISTRY)
    graph = StateGraph(ChatState)
    graph.add_node("intake", start_request)  # a no-op for ChatSession; resets counters for bare-message clients
    graph.add_node(
        "supervisor", partial(nodes.supervisor, deps=deps), destinations=("experimenter", "analyst", "__end__")
    )
    for worker in WORKERS:
        graph.add_node(
            worker, partial(nodes.worker, deps=deps, name=worker), destinations=("approval", "supervisor", "__end__")
        )
    graph.add_node("approval", partial(approval, deps=deps), destinations=("tools", "approval", *WORKERS, "__end__"))
    graph.add_node("tools", partial(run_tools, deps=deps), destinations=(*WORKERS, "__end__"))
    graph.add_edge(START, "intake")
    graph.add_edge("intake", "supervisor")
    return graph.compile(checkpointer=checkpointer)


def make_graph(config: dict[str, Any] | None = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Factory for LangGraph tooling (`langgraph.json`): default settings, the platform's own checkpointer."""
    return build_chat_graph()
