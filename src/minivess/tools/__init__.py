"""LLM-facing tools: pydantic args/results over pipelines; the docstring is the description the model reads."""
