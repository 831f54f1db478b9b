"""The embedded planner: a deterministic, rule-based 'model' that plans tool calls from a conversation."""

from __future__ import annotations

from minivess.agents.planner.core import current_plan, plan_reply
from minivess.agents.planner.models import Plan, PlannedCall, PlannerReply, Step, StepOutput

__all__ = ["Plan", "PlannedCall", "PlannerReply", "Step", "StepOutput", "current_plan", "plan_reply"]
