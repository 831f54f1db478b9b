"""Pure-Python pipelines (data, models, training, metrics, tracking, analytics); no LLM imports."""
