"""LangGraph graphs: state, builders (one per graph) and checkpointing."""
