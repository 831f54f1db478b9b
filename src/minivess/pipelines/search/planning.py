"""Planning a search from history: the embedded strategy the nightly agent uses when no LLM is configured.

Reads past training runs (the warehouse's view of MLflow), decides which families and losses are worth the
budget, where the learning rate should lie, which known configurations to re-run first (warm start), and says
why in plain sentences that go to the trace and the morning report. `replan` narrows or widens the
learning-rate range between rounds from the search's own trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from minivess.pipelines.search.space import LOSSES, OPTIMIZERS, SearchSpace

# A family or loss is dropped when its best run trails the best one by this much clDice (and it had a fair try).
DROP_MARGIN = 0.15
FAIR_TRY_RUNS = 2
WARM_START_SHARE = 0.25  # at most this share of the trials re-runs known configurations
MAX_WARM_STARTS = 3


@dataclass(frozen=True)
class PastRun:
    """One finished or failed training run as the planner sees it."""

    run_id: str
    family: str
    loss: str
    optimizer: str
    lr: float
    status: str
    score: float | None  # best validation clDice; None when the run failed or never validated
    error: str = ""

    def config(self) -> dict[str, Any]:
        return {"family": self.family, "loss": self.loss, "optimizer": self.optimizer, "lr": self.lr}


class SearchPlan(BaseModel):
    """What the planner decided: the first round's space, the configurations to try first, and why."""

    space: SearchSpace
    warm_starts: list[dict[str, Any]] = Field(default_factory=list)
    reasoning: list[str] = Field(default_factory=list)
    rounds: list[int] = Field(description="Trials per round; the space may change between rounds.")


def plan_search(history: Sequence[PastRun], families: Sequence[str], trials: int) -> SearchPlan:
    """Propose a space, a warm start and a split of `trials` into rounds from past runs of `families`.

    Args:
        history: Past training runs (any families; others are ignored).
        families: The families the search may use (already filtered by the caller, e.g. by CPU cost).
        trials: The search's trial budget.
    """
    if not families:
        raise ValueError("a search needs at least one model family")
    reasoning: list[str] = []
    relevant = [r for r in history if r.family in families]
    scored = [r for r in relevant if r.score is not None and math.isfinite(r.score)]
    if not scored:
        reasoning.append(f"No scored past runs of {', '.join(families)}: searching the default space with plain TPE.")
    else:
        best = max(scored, key=lambda r: r.score or 0.0)
        reasoning.append(
            f"{len(scored)} scored past run(s) of {', '.join(sorted({r.family for r in scored}))}; the best is "
            f"{best.run_id[:8]} ({best.family}, {best.loss}, {best.optimizer}, lr {best.lr:.2g}) at val clDice "
            f"{best.score:.3f}."
        )
    kept_families = _keep(families, relevant, "family", "family", reasoning)
    kept_losses = _keep(LOSSES, [r for r in relevant if r.family in kept_families], "loss", "loss", reasoning)
    low, high = _lr_range([r for r in scored if r.family in kept_families and r.loss in kept_losses], reasoning)
    space = SearchSpace(families=tuple(kept_families), losses=tuple(kept_losses), optimizers=OPTIMIZERS).with_lr(
        low, high
    )
    warm = _warm_starts(scored, space, trials)
    if warm:
        reasoning.append(
            f"Warm start: re-running the {len(warm)} best known configuration(s) inside the space first, so TPE "
            "starts from what already works."
        )
    rounds = [trials] if trials < 6 else [trials // 2, trials - trials // 2]
    if len(rounds) > 1:
        reasoning.append(f"Two rounds of {rounds[0]} and {rounds[1]} trials; the lr range is revisited in between.")
    return SearchPlan(space=space, warm_starts=warm, reasoning=reasoning, rounds=rounds)


def replan(space: SearchSpace, results: Sequence[tuple[dict[str, Any], float]]) -> tuple[SearchSpace, str]:
    """The next round's space from this search's scored trials, and the sentence that explains it.

    Narrows the learning rate around the top quarter of trials; widens it by a factor of three on a side
    where the best trial sits at the edge of the range.
    """
    if len(results) < 3:
        return space, f"Only {len(results)} scored trial(s): keeping the space ({space.describe()})."
    ranked = sorted(results, key=lambda item: item[1], reverse=True)
    top = ranked[: max(2, len(ranked) // 4)]
    lrs = [float(config["lr"]) for config, _ in top]
    best_lr = float(ranked[0][0]["lr"])
    log_span = math.log(space.lr_high / space.lr_low)
    if math.log(best_lr / space.lr_low) < 0.1 * log_span:
        new = space.with_lr(space.lr_low / 3, max(lrs) * 2)
        why = f"the best trial's lr {best_lr:.2g} sits at the low edge: widening down"
    elif math.log(space.lr_high / best_lr) < 0.1 * log_span:
        new = space.with_lr(min(lrs) / 2, space.lr_high * 3)
        why = f"the best trial's lr {best_lr:.2g} sits at the high edge: widening up"
    else:
        new = space.with_lr(min(lrs) / 2, max(lrs) * 2)
        why = f"the top {len(top)} trials' lr lie in {min(lrs):.2g}–{max(lrs):.2g}: narrowing around them"
    return new, f"After {len(results)} trials {why} (lr {new.lr_low:.2g}–{new.lr_high:.2g})."


def _keep(choices: Sequence[str], runs: Sequence[PastRun], attr: str, noun: str, reasoning: list[str]) -> list[str]:
    """The choices worth searching: drop those that failed every fair try or trail the best by DROP_MARGIN."""
    best: dict[str, float] = {}
    tries: dict[str, int] = {}
    failures: dict[str, list[str]] = {}
    for run in runs:
        value = getattr(run, attr)
        tries[value] = tries.get(value, 0) + 1
        if run.score is not None and math.isfinite(run.score):
            best[value] = max(best.get(value, -1.0), run.score)
        elif run.status == "FAILED":
            failures.setdefault(value, []).append(run.error or "no error recorded")
    top = max(best.values(), default=None)
    kept: list[str] = []
    for choice in choices:
        if choice not in best and len(failures.get(choice, [])) >= FAIR_TRY_RUNS:
            reasoning.append(
                f"Dropping {noun} {choice}: all {tries[choice]} past run(s) failed (last error: "
                f"{failures[choice][-1][:120]})."
            )
        elif top is not None and choice in best and tries[choice] >= FAIR_TRY_RUNS and best[choice] < top - DROP_MARGIN:
            reasoning.append(
                f"Dropping {noun} {choice}: its best of {tries[choice]} run(s) is {best[choice]:.3f}, more than "
                f"{DROP_MARGIN} below the best {noun}'s {top:.3f}."
            )
        else:
            kept.append(choice)
    if not kept:  # never plan an empty space: keep everything and say so
        reasoning.append(f"Every {noun} looked poor; keeping all of them.")
        return list(choices)
    return kept


def _lr_range(scored: Sequence[PastRun], reasoning: list[str]) -> tuple[float, float]:
    default = SearchSpace(families=("x",))
    if len(scored) < 3:
        return default.lr_low, default.lr_high
    ranked = sorted(scored, key=lambda r: r.score or 0.0, reverse=True)[:3]
    low, high = min(r.lr for r in ranked) / 3, max(r.lr for r in ranked) * 3
    reasoning.append(
        f"The 3 best past runs used lr {', '.join(f'{r.lr:.2g}' for r in ranked)}: searching lr "
        f"{max(low, 1e-5):.2g}–{min(high, 0.1):.2g} (three times around them)."
    )
    return low, high


def _warm_starts(scored: Sequence[PastRun], space: SearchSpace, trials: int) -> list[dict[str, Any]]:
    limit = min(MAX_WARM_STARTS, int(trials * WARM_START_SHARE))
    out: list[dict[str, Any]] = []
    for run in sorted(scored, key=lambda r: r.score or 0.0, reverse=True):
        config = run.config()
        if len(out) >= limit:
            break
        if space.contains(config) and config not in out:
            out.append(config)
    return out
