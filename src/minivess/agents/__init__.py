"""Agent nodes, policies, the LLM gateway (the only module importing litellm) and the embedded planner."""
