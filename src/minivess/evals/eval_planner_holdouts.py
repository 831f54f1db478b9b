"""`braintrust eval src/minivess/evals [--no-send-logs]` entry point: every planner holdout suite
(minivess.evals.holdouts), each recorded in HOME/evals/history.jsonl as `minivess evals run <holdout>` records it."""

from __future__ import annotations

from braintrust import Eval

from minivess.evals import build_suite
from minivess.evals.holdouts import HOLDOUTS
from minivess.settings import get_settings

_settings = get_settings()
for _name in HOLDOUTS:
    _suite = build_suite(_name, _settings)
    Eval(**_suite.eval_kwargs(_settings, _suite.run_info(_settings)))
