"""The regression gate: each suite's latest recorded run must keep every scorer's mean at or above its floor."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from minivess.errors import ConfigError
from minivess.evals.history import RunSummary

logger = logging.getLogger(__name__)

FLOORS_FILE: Final = Path(__file__).with_name("floors.yaml")
TOLERANCE: Final = 1e-9


class Floors(BaseModel):
    """floors.yaml: suite → scorer → the lowest acceptable mean score."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(1, description="format version of this file")
    suites: dict[str, dict[str, float]] = Field(description="suite → scorer → floor in [0, 1]")

    def for_suite(self, suite: str) -> dict[str, float]:
        return dict(self.suites.get(suite, {}))


def load_floors(path: Path | None = None) -> Floors:
    """Read a floors file (default: the versioned one shipped with the package).

    Raises:
        ConfigError: The file is missing, not YAML, or has an unknown key or a floor outside [0, 1].
    """
    path = path or FLOORS_FILE
    try:
        floors = Floors.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except OSError as exc:
        raise ConfigError(f"cannot read floors file {path}: {exc}.") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"floors file {path} is invalid: {exc}. See src/minivess/evals/floors.yaml.") from exc
    bad = [f"{s}.{n}={v}" for s, scores in floors.suites.items() for n, v in scores.items() if not 0 <= v <= 1]
    if bad:
        raise ConfigError(f"floors must lie in [0, 1]; fix {', '.join(bad)} in {path}.")
    return floors


@dataclass(frozen=True)
class FloorCheck:
    """One scorer of one suite against its floor."""

    suite: str
    scorer: str
    mean: float | None
    floor: float

    @property
    def ok(self) -> bool:
        return self.mean is not None and self.mean >= self.floor - TOLERANCE


@dataclass
class GateResult:
    """Every check made, and the problems that fail the gate besides low scores (no run, errored cases)."""

    checks: list[FloorCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    runs: dict[str, RunSummary] = field(default_factory=dict)

    @property
    def failures(self) -> list[FloorCheck]:
        return [check for check in self.checks if not check.ok]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failures


def check_gate(latest: Mapping[str, RunSummary], floors: Floors, suites: Sequence[str] = ()) -> GateResult:
    """Compare the latest run of each suite with its floors.

    Args:
        latest: Suite → its latest recorded run.
        floors: The floors.
        suites: Suites to check; default every suite that has floors and a recorded run.

    Returns:
        The result; it fails when a mean is below its floor, a floored scorer was not measured, a case errored,
        a named suite has no recorded run, or there is nothing to check at all.
    """
    result = GateResult()
    chosen = list(suites) or [s for s in floors.suites if s in latest]
    if not chosen:
        result.problems.append("no eval run recorded yet: run `minivess evals run planner` first.")
    for suite in chosen:
        run = latest.get(suite)
        if run is None:
            result.problems.append(f"{suite}: no recorded run; run `minivess evals run {suite}` first.")
            continue
        result.runs[suite] = run
        if suite not in floors.suites:
            result.problems.append(f"{suite}: no floors in the floors file; add them before gating on it.")
        if run.errors:
            result.problems.append(f"{suite}: {run.errors} of {run.cases} cases raised an error in run {run.run_id}.")
        for scorer, floor in floors.for_suite(suite).items():
            result.checks.append(FloorCheck(suite, scorer, run.means.get(scorer), floor))
    for check in result.failures:
        logger.info("gate: %s.%s = %s < floor %.3f", check.suite, check.scorer, check.mean, check.floor)
    return result
