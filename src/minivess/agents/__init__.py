"""Everything an agent is: state, nodes, tool execution, approval, limits, the LLM gateway and the embedded planner."""
