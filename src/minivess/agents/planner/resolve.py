"""Turning run references into tool values: pronouns → the latest run, placeholders → earlier step results."""

from __future__ import annotations

import re
from typing import Any, Final

from minivess.agents.planner.lexicon import families_in
from minivess.agents.planner.models import Step, StepOutput, ToolOutcome
from minivess.agents.planner.refs import RunRef

RunValue = str | StepOutput
# Tools whose result names one run (what "it" / "that run" points at afterwards).
PRODUCERS: Final = frozenset(
    {"train_model", "evaluate_run", "predict_volume", "promote_model", "get_run", "calibrate_run",
     "conformal_calibrate", "build_ensemble", "greedy_soup", "quality_gate"}
)  # fmt: skip
# Producers whose result is the run they were given, not a new one: after them "it" is that run as the user named it
_SAME_RUN: Final = PRODUCERS - {"train_model", "build_ensemble", "greedy_soup"}
# Steps that make runs without naming one ("… then launch a search, then promote it": "it" is no longer "last")
_MAKES_RUNS: Final = frozenset({"start_search"})
# The review loop's tools: each works on one dataset folder (their `dataset` argument).
REVIEW_TOOLS: Final = frozenset({"find_label_issues", "queue_for_review", "review_status", "import_reviews"})
_SPECIFIC: Final = (
    "id", "alias", "pronoun", "plural", "last", "previous", "lastn", "best", "ordinal", "firstn", "label"
)  # fmt: skip
# For one target, what the user typed outright (an id, "the last run", "the best …") beats "it".
_PRIORITY: Final = (
    "id", "alias", "ordinal", "label", "last", "previous", "best", "pronoun", "plural", "lastn", "firstn", "family"
)  # fmt: skip
# What users call a run by that its record spells otherwise ("the OOM one": "CUDA out of memory")
_LABEL_WORDS: Final = {"oom": "out of memory", "nan": "nan", "crashed": "failed", "failed": "failed"}


def _shows(label: str, part: str) -> bool:
    """Whether a run's label holds ``part`` as a whole word ("unet" is not in "swinunetr"), or its long form."""
    forms = (part, _LABEL_WORDS.get(part, part))
    return any(re.search(rf"(?<![a-z0-9]){re.escape(form)}(?![a-z0-9])", label) for form in forms)


def _stays_put(value: RunValue | None) -> bool:
    """Whether a run reference names the same run later in the plan: an id or an alias, not "last" or "best…"."""
    if not isinstance(value, str):
        return value is not None  # a placeholder: an earlier step's exact output
    return not value.lower().startswith(("last", "best", "previous"))


def run_id_of(data: Any) -> str | None:
    """The run a tool result is about: its run_id, the single run of get_run, or a leaderboard's top row."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("run_id"), str):
        return str(data["run_id"])
    if isinstance(data.get("best_run_id"), str):  # a search: its best trial
        return str(data["best_run_id"])
    runs = data.get("runs")
    if isinstance(runs, list) and len(runs) == 1 and isinstance(runs[0], dict) and runs[0].get("run_id"):
        return str(runs[0]["run_id"])
    rows = data.get("rows")
    if isinstance(rows, list) and rows and isinstance(rows[0], dict) and isinstance(rows[0].get("run"), dict):
        run_id = rows[0]["run"].get("run_id")
        return str(run_id) if run_id else None
    curves = data.get("curves")  # learning_curves of one run: {"<run id>": {...}}
    if isinstance(curves, dict) and len(curves) == 1:
        (run_id,) = curves
        return str(run_id) if isinstance(run_id, str) and len(run_id) == 32 else None
    return None


class RefResolver:
    """Resolves references while a plan is built: earlier steps of the plan first, then the conversation."""

    def __init__(
        self,
        history_ids: list[str],
        last_train: dict[str, Any] | None = None,
        *,
        review_dataset: str | None = None,
        reviewed_dataset: str | None = None,
        group: list[str] | None = None,
        run_labels: dict[str, str] | None = None,
        dataset: str | None = None,
        alpha: float | None = None,
        last_args: dict[str, dict[str, Any]] | None = None,
        search_id: str | None = None,
        last_tool: str | None = None,
    ) -> None:
        self.history = history_ids
        self.last_tool = last_tool  # the tool that answered last in the conversation
        self.last_train = last_train
        self.dataset: str | StepOutput | None = dataset  # the folder an earlier step (or turn) looked at ("on it")
        self.review_dataset: str | StepOutput | None = review_dataset  # the folder the review loop works on
        self.review_planned = False  # a review-loop step of this plan chose the folder (the history's no longer counts)
        self.reviewed: str | StepOutput | None = reviewed_dataset  # the version import_reviews made
        self.made: int | None = None  # the step that synthesised data ("…, then find label issues in it")
        self.mentioned: RunValue | None = None  # the run an earlier step of this plan was about
        self.producer: int | None = None
        self._producer_tool: str | None = None
        self._runs_made_since = False  # a step after the latest producer made runs ("last", "best" moved)
        self._given: dict[int, RunValue] = {}  # producing step → the run it was given, placeholders followed back
        self.trained: list[int] = []
        self.group: list[RunValue] = list(group or [])  # the runs of the latest answer about several
        self.run_labels = dict(run_labels or {})  # run id → what earlier answers showed of it (family, name, error)
        self.alpha: float | None = alpha  # the latest tolerated false-negative rate ("at that same risk")
        self.last_args: dict[str, dict[str, Any]] = dict(last_args or {})  # earlier turns' arguments per tool
        self.made_name: str | None = None  # the name of the dataset this plan synthesises
        self.search_id = search_id  # the search an earlier turn started or looked at

    def note(self, index: int, step: Step) -> None:
        """Record a planned step; later pronouns point at the latest run-producing one."""
        if step.tool in PRODUCERS:
            self.producer, self._producer_tool, self._runs_made_since = index, step.tool, False
            given = step.args.get("run_id")
            if isinstance(given, StepOutput) and given.key == "run_id" and given.step in self._given:
                given = self._given[given.step]  # "…, then evaluate it on val": the run the earlier step was given
            if given is not None:
                self._given[index] = given
        else:
            self._runs_made_since = self._runs_made_since or step.tool in _MAKES_RUNS
            runs = step.args.get("run_ids")
            named = step.args.get("run_id", runs[0] if isinstance(runs, list) and len(runs) == 1 else None)
            self.mentioned = named if named is not None else self.mentioned  # "… the last run …, show its curves"
        if step.tool == "train_model":
            self.trained.append(index)
        if step.tool in ("compare_runs", "learning_curves") and isinstance(step.args.get("run_ids"), list):
            self.group = list(step.args["run_ids"])  # "…, then compare them"
        if step.tool == "train_model":
            self.last_train = {k: v for k, v in step.args.items() if k != "register_as"}  # "… and again with seed 2"
        if step.tool in ("dataset_info", "check_drift"):
            # a folder or a dataset's name: the tools take both
            path = step.args.get("path") or step.args.get("current")
            self.dataset = path if isinstance(path, str) and path else self.dataset
        if step.tool == "synthesize_data":
            path = step.args.get("name")
            self.dataset = path if isinstance(path, str) and "/" in path else self.dataset
        if step.tool in ("conformal_calibrate", "predict_volume"):
            alpha = step.args.get("alpha", step.args.get("risk_fnr"))
            self.alpha = alpha if isinstance(alpha, float) else self.alpha
        if step.tool == "synthesize_data" and isinstance(step.args.get("name"), str):
            self.made_name = step.args["name"]
        if step.tool == "synthesize_data":
            self.made = index
        if step.tool in REVIEW_TOOLS:
            self.review_dataset = step.args.get("dataset")  # none named: the tool's default, for what follows too
            folder = self.review_dataset
            self.dataset = folder if isinstance(folder, str) and "/" in folder else self.dataset
            self.review_planned = True
        if step.tool == "import_reviews":
            self.reviewed = self.dataset = StepOutput(index, "dataset_dir")  # "…, then train segresnet on it"

    @property
    def reference(self) -> RunValue | None:
        """The run the latest producing step was given ("run the gate on the challenger and write its card")."""
        return self._given.get(self.producer) if self.producer is not None else None

    @property
    def subjects(self) -> list[RunValue]:
        """The runs this plan's steps were given, in order, each once ("evaluate X, evaluate Y, compare the two")."""
        found: list[RunValue] = []
        for value in self._given.values():
            if value not in found:
                found.append(value)
        return found

    def implicit(self) -> RunValue | None:
        """What "it" means now: the run of the latest producing step, else the latest run in the conversation.

        A step that works on a run it was given (evaluate, calibrate, gate…) leaves "it" as the user named that run
        when the name stays put: an id or a registry alias ("evaluate the champion on test, then calibrate it": the
        champion). "last" and "best…" move whenever a run finishes (a search in this plan, a training elsewhere,
        hours spent waiting for an approval), so after them "it" is the run that step resolved (its output), as it
        is after a step that makes a run (training, an ensemble, a soup).
        """
        if self.producer is not None:
            given = self._given.get(self.producer)
            if self._producer_tool in _SAME_RUN and _stays_put(given) and not self._runs_made_since:
                return given
            return StepOutput(self.producer)
        if self.mentioned is not None:
            return self.mentioned
        return self.history[-1] if self.history else None

    def _expand(self, prefix: str) -> str:
        if len(prefix) >= 32:
            return prefix
        matches = [run_id for run_id in reversed(self.history) if run_id.startswith(prefix)]
        return matches[0] if matches else prefix

    def _recent(self, count: int) -> list[RunValue]:
        recent: list[RunValue] = []
        if self.producer is not None:
            recent.append(StepOutput(self.producer))
        for run_id in reversed(self.history):
            if run_id not in recent:
                recent.append(run_id)
        return recent[:count] or ["last"]

    def _one(self, ref: RunRef) -> list[RunValue]:
        if ref.kind == "pronoun":
            value = self.implicit()
            return [value] if value is not None else []
        if ref.kind == "previous":
            recent = self._recent(2)
            return recent[1:2] if len(recent) > 1 else []  # the run before the latest; unknown → ask
        if ref.kind == "lastn":
            return self._recent(int(ref.value))
        if ref.kind == "plural" and ref.value:
            named = self._one(RunRef("plural", "", ref.start, ref.end))
            return named if len(named) == int(ref.value) else []  # "all three of those" after a 5-row table: ask
        if ref.kind == "plural":
            if self.group:
                return list(self.group)
            if len(self.trained) >= 2:
                return [StepOutput(index) for index in self.trained]
            if len(self.subjects) >= 2:
                return self.subjects[-2:]  # "evaluate the champion …, evaluate the challenger …, compare the two"
            if len(self._given) >= 2:
                return []  # every step was about one run: "… evaluate it on val, and compare the two" is asked
            known = self._recent(2)
            if known == ["last"]:
                return []  # "curves for those runs" with no runs in the conversation: asked which
            return list(reversed(known))  # "compare the two": older first, as they happened
        if ref.kind in ("ordinal", "firstn"):
            # "the first two" of the latest list (a leaderboard, a comparison), else of the conversation's runs
            listed: list[RunValue] = list(self.group) or list(self.history)
            if ref.kind == "firstn":
                return listed[: int(ref.value)] if len(listed) >= int(ref.value) else []
            return listed[int(ref.value) : int(ref.value) + 1]
        if ref.kind == "id":
            return [self._expand(ref.value)]
        if ref.kind == "label":
            # "the OOM one" among the runs shown last, else among the conversation's runs (newest first)
            found = self._labelled(ref.value, self.group) or self._labelled(ref.value, list(reversed(self.history)))
            family = families_in(ref.value)
            return found or ([f"best:{family[0][2]}"] if family else [])  # "the swinunetr one": else the best one
        if ref.ranked and self.group:
            return self.group[:1]  # "make the top one the challenger" after a leaderboard: its first row
        return [ref.value]

    def _labelled(self, word: str, among: list[RunValue]) -> list[RunValue]:
        """The one run of ``among`` whose record shows every part of ``word`` ("nan-loss": "nan" and "loss")."""
        parts = [part for part in word.lower().replace("_", "-").split("-") if part]
        runs: list[RunValue] = [
            run
            for run in dict.fromkeys(among)
            if isinstance(run, str) and parts and all(_shows(self.run_labels.get(run, ""), part) for part in parts)
        ]
        return runs[:1] if len(runs) == 1 else []

    def resolve(self, refs: list[RunRef], *, single: bool) -> list[RunValue]:
        """Tool values for `refs`, without repeats; family-only mentions count only when nothing specific is named.

        With `single`, the most specific reference wins (an id over "it" over "the last run" over "the best …").
        """
        specific = [ref for ref in refs if ref.kind in _SPECIFIC]
        chosen = specific if specific else refs
        if single:
            for ref in sorted(chosen, key=lambda ref: _PRIORITY.index(ref.kind)):
                found = self._one(ref)
                if found:
                    return found[:1]
            families: list[RunValue] = [ref.value for ref in refs if ref.kind == "family"]
            return families[:1]
        values: list[RunValue] = []
        for ref in chosen:
            for value in self._one(ref):
                if value not in values:
                    values.append(value)
        if specific and len(values) < 2:
            values += [ref.value for ref in refs if ref.kind == "family" and ref.value not in values]
        return values


def _output(value: StepOutput, outcomes: list[ToolOutcome]) -> str | None:
    """The result field a non-run placeholder names, once its step answered (None when it gave none)."""
    outcome = outcomes[value.step] if value.step < len(outcomes) else None
    found = outcome.data.get(value.key) if outcome is not None and isinstance(outcome.data, dict) else None
    return found if isinstance(found, str) and found else None


def resolve_value(value: Any, outcomes: list[ToolOutcome]) -> Any:
    """Replace placeholders with the run id from the earlier step's result ('last' if it named none), or with the
    result field they name (None if it gave none: `missing_output` stops the plan before such a step)."""
    if isinstance(value, StepOutput) and value.key != "run_id":
        return _output(value, outcomes)
    if isinstance(value, StepOutput):
        outcome = outcomes[value.step] if value.step < len(outcomes) else None
        run_id = run_id_of(outcome.data) if outcome is not None else None
        return run_id or "last"
    if isinstance(value, list):
        resolved = [resolve_value(item, outcomes) for item in value]
        return list(dict.fromkeys(resolved)) if all(isinstance(v, str) for v in resolved) else resolved
    return value


def resolve_args(step: Step, outcomes: list[ToolOutcome]) -> dict[str, Any]:
    """The step's arguments with every placeholder resolved."""
    return {key: resolve_value(value, outcomes) for key, value in step.args.items()}


def missing_output(step: Step, outcomes: list[ToolOutcome]) -> tuple[str, StepOutput] | None:
    """(argument, placeholder) of a step whose earlier step answered without the value it needs, e.g. training on
    "the reviewed dataset" after an import_reviews that found nothing reviewed. The step must not run then: without
    the value it would fall back to the default dataset, silently."""
    for key, value in step.args.items():
        outstanding = isinstance(value, StepOutput) and value.key != "run_id" and value.step < len(outcomes)
        if outstanding and _output(value, outcomes) is None:
            return key, value
    return None
