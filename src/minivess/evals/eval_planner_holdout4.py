"""`braintrust eval src/minivess/evals [--no-send-logs]` entry point: the fourth planner holdout suite
(minivess.evals.planner_holdout4), recorded in HOME/evals/history.jsonl as `minivess evals run planner_holdout4`."""

from __future__ import annotations

from braintrust import Eval

from minivess.evals import build_suite
from minivess.settings import get_settings

_settings = get_settings()
_suite = build_suite("planner_holdout4", _settings)
Eval(**_suite.eval_kwargs(_settings, _suite.run_info(_settings)))
