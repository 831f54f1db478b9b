"""`braintrust eval src/minivess/evals [--no-send-logs]` entry point: the e2e suite (minivess.evals.e2e).

Braintrust imports this file and runs the `Eval` it declares; the suite's reporter prints Braintrust's summary and
records the scores in HOME/evals/history.jsonl, as `minivess evals run e2e` does.
"""

from __future__ import annotations

from braintrust import Eval

from minivess.evals import build_suite
from minivess.settings import get_settings

_settings = get_settings()
_suite = build_suite("e2e", _settings)
Eval(**_suite.eval_kwargs(_settings, _suite.run_info(_settings)))
