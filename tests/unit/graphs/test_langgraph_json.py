"""langgraph.json points LangGraph's tooling at a factory that builds the chat graph."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_langgraph_json_factory_builds_the_chat_graph() -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    target = spec["graphs"]["minivess_chat"]
    path, _, attr = target.partition(":")
    module_spec = importlib.util.spec_from_file_location("minivess_chat_entry", ROOT / path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    graph = getattr(module, attr)({"configurable": {}})
    assert set(graph.get_graph().nodes) >= {"supervisor", "experimenter", "analyst", "approval", "tools"}
