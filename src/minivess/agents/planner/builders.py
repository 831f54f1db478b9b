"""One builder per intent: a clause (plus its run references) → tool steps, or a question for the user."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from minivess.agents.planner import risk, slots, unknown
from minivess.agents.planner.bounds import BOUNDS
from minivess.agents.planner.datasets import dataset_name
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.lexicon import first_metric, metrics_in, param_in
from minivess.agents.planner.models import Clarify, Step, StepOutput
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.sqlmap import REGISTRY_COUNT_SQL, REGISTRY_SQL, canned_sql
from minivess.agents.planner.texts import DATASET_QUESTION, UNCERTAINTY_QUESTION, run_question

Built = list[Step] | Clarify
Builder = Callable[[str, list[RunRef], RefResolver], Built]

_SPLIT: Final = re.compile(
    r"\b(val(?:idation)?|test(?:ing)?|train(?:ing)?|held[\s-]out)\b(?P<noun>[\s-]+(?:set|split|data|volumes))?", re.I
)
_SPLIT_CUE: Final = re.compile(
    r"\b(?:on|against|using|with|and|both|for)\s+(?:the\s+|both\s+)?$|[,&]\s*(?:the\s+)?$", re.I
)
_OVERALL: Final = re.compile(
    r"\boverall\b|\ball\s+runs\b|\bacross\s+(?:all\s+)?(?:families|models)\b|\bregardless\b|\bany\s+family\b"
    r"|\bevery\s+run\b|\bbest\s+runs\b|\b(?:top|best)\s+\S+\s+runs\b|\bruns\s+overall\b|\bnot\s+(?:grouped|per\s+family)\b",
    re.I,
)
_NOT_GROUPED: Final = re.compile(
    r"\bnot\s+(?:grouped|split|broken\s+down)\b|\bnot\s+(?:one\s+|the\s+best\s+)?per\s+family\b|\bungrouped\b"
    r"|\b(?:don't|do\s+not|without)\s+group\w*\b|\bindividual\s+runs?\b|\brun\s+by\s+run\b|\bper\s+run\b"
    r"|\b(?:instead\s+of|rather\s+than)\s+(?:per|by)\s+(?:model\s+)?famil(?:y|ies)\b",
    re.I,
)
_PER_FAMILY: Final = re.compile(r"\b(?:per|by|for\s+each|each)\s+(?:model\s+)?famil(?:y|ies)\b", re.I)
_PRESETS: Final[tuple[tuple[str, str], ...]] = (
    ("noisy_labels", r"\bnoisy[\s_]labels?\s+preset\b|\bpreset\s+noisy[\s_]labels\b"
                     r"|(?<!called )(?<!named )(?<!as )(?<!name )\bnoisy_labels\b(?!\s*=)"),
    ("shifted", r"\bshift(?:ed)?\b|\bdomain[\s-]shift|\bdrift\b|\bout[\s-]of[\s-]distribution\b|\bood\b"),
    ("small", r"\bsmall\b|\btiny\b|\bminiature\b"),
    ("minivess", r"\bminivess[\s-]*(?:like|style|preset)\b|\blike\s+(?:the\s+)?(?:real\s+)?minivess\b"
                 r"|\bpreset\s+minivess\b|\brealistic\b"),
)  # fmt: skip
_LABEL_NOISE: Final = re.compile(
    r"\blabel[\s_-]noise\b|\bnoisy[\s_-]+(?:labels?|masks?|annotations?)\b|\bcorrupt(?:ed)?\s+(?:labels?|masks?)\b"
    r"|\blabel\s+errors?\b|\bwrong\s+labels?\b|\bnoisy\s+(?:dataset|data|volumes?)\b|\bmislabell?ed\b"
    r"|\b(?:masks?|labels?|annotations?)\s+(?:(?:are|were|is|get|got|deliberately|intentionally|purposely|randomly)\s+)*"
    r"(?:corrupt(?:ed)?|perturbed|damaged|broken|wrong)\b",
    re.I,
)


def in_bounds(key: str, value: float | None) -> bool:
    """Values outside the tool's range are left out, so the accounting pass asks about them (naming the limit)."""
    return value is not None and BOUNDS[key].allows(value)


def word_out_of_range(values: dict[str, Any], text: str) -> Clarify | None:
    """A value written in words ("zero epochs") that breaks its range: the accounting pass sees digits only."""
    for key, value in values.items():
        if key not in BOUNDS or not isinstance(value, int | float) or BOUNDS[key].allows(value):
            continue
        if not re.search(rf"(?<![\w.]){re.escape(f'{value:g}')}(?![\w.])", text):
            bound = BOUNDS[key]
            return Clarify(f"{bound.what.capitalize()} must be {bound.describe()}, not {value:g}. Which value?")
    return None


def _splits(clause: str) -> list[str]:
    found: list[str] = []
    for match in _SPLIT.finditer(clause):
        if not (match.group("noun") or _SPLIT_CUE.search(clause[: match.start()])):
            continue
        word = match.group(1).lower()
        split = "val" if word.startswith("val") else "train" if word.startswith("train") else "test"
        if split not in found:
            found.append(split)
    return found or ["test"]


def ask_run(action: str, refs: list[RunRef], clause: str = "") -> Clarify:
    """Which run? The answer goes right after an unresolved "that run"/"it", so it takes that place."""
    pronouns = [ref for ref in refs if ref.kind in ("pronoun", "plural")]
    return Clarify(run_question(action), at=pronouns[0].end if pronouns else None)


def targets(refs: list[RunRef], res: RefResolver, *, single: bool, clause: str = "") -> list[Any]:
    values: list[Any] = list(res.resolve(refs, single=single))
    # an unknown "previous run", or a row the list shown does not have ("number four" of three), is asked about
    # a label no run shows is asked about ("the worst one"), but "the calibrated run" is the one just worked on
    unknown = [ref for ref in refs if ref.kind in ("previous", "ordinal", "firstn")]
    unknown += [ref for ref in refs if ref.kind == "label" and not ref.value.endswith("ed")]
    if not values and not unknown:
        implicit = res.implicit()
        values = [implicit] if implicit is not None else []
    return values


def build_evaluate(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """evaluate_run for each named run and split (test by default)."""
    if problem := unknown.unknown_split(clause):
        return problem
    runs = targets(refs, res, single=False, clause=clause)
    if not runs:
        return ask_run("evaluate", refs, clause)
    return [Step("evaluate_run", {"run_id": run, "split": split}) for run in runs for split in _splits(clause)]


def _predict_extras(clause: str) -> tuple[str, dict[str, Any]] | Clarify:
    """The clause without its uncertainty-map path, and risk_fnr / uncertainty_path when asked for."""
    extras: dict[str, Any] = {}
    fnr = risk.fnr_value(clause, "The tolerated share of missed vessel voxels (risk_fnr)")
    if isinstance(fnr, Clarify):
        return fnr
    if fnr is not None:
        extras["risk_fnr"] = fnr
    output = risk.uncertainty_output(clause)
    if output is not None and output.path is None:
        return Clarify(UNCERTAINTY_QUESTION, template="to {}", at=output.end)
    if output is not None and output.path is not None:
        extras["uncertainty_path"] = output.path
        clause = risk.without_span(clause, output.start, output.end)
    return clause, extras


_SAME_RISK: Final = re.compile(
    r"\b(?:the\s+|that\s+)?same\s+(?:risk|alpha|fnr|miss\s+rate|false[\s-]+negative\s+rate)(?:\s+level)?\b"
    r"|\b(?:that|this|the\s+same)\s+(?:risk|alpha|fnr|guarantee|miss[\s-]rate|error\s+rate|conformal\s+(?:threshold|level))"
    r"(?:\s+level)?\b",
    re.I,
)


def build_predict(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """predict_volume per NIfTI input named ("segment a.nii.gz and b.nii.gz"; "… to out.nii.gz" is the output);
    "missing at most 5 % of vessels" asks for the conformal mask (risk_fnr), "… uncertainty map to u.nii.gz" for
    an uncertainty map (uncertainty_path)."""
    found = _predict_extras(clause)
    if isinstance(found, Clarify):
        return found
    text, extras = found
    sources, target = slots.nii_inputs_and_output(text)
    if not sources:
        if folder := slots.input_folder(text):  # a folder is a value given: named, never dropped
            return Clarify(
                f"I segment one volume file at a time, and '{folder}' is not a .nii or .nii.gz file. Which volume "
                "in it should I segment (e.g. data/raw/vol.nii.gz)?"
            )
        return Clarify(
            "Which volume should I segment? Give the path of a .nii or .nii.gz file, e.g. data/raw/vol.nii.gz."
        )
    runs = targets(refs, res, single=True, clause=clause)
    if not runs:
        return ask_run(f"use to segment {sources[0]}", refs, clause)
    if target and len(sources) > 1:
        return Clarify(f"Where should the masks of {len(sources)} volumes go? One output path fits one volume.")
    if "uncertainty_path" in extras and len(sources) > 1:
        return Clarify(f"Where should the uncertainty maps of {len(sources)} volumes go? One path fits one volume.")
    if "risk_fnr" not in extras and (same := _SAME_RISK.search(clause)):
        if res.alpha is None:
            return Clarify(
                "Which risk do you mean? No conformal threshold or risk was set earlier: give the tolerated share of "
                "missed vessel voxels (e.g. 'at most 5 %').",
                at=same.start(),
                span=same.span(),
            )
        extras["risk_fnr"] = res.alpha
    steps = [Step("predict_volume", {"run_id": runs[0], "input_path": source, **extras}) for source in sources]
    if target:
        steps[0].args["output_path"] = target
    return steps


def build_promote(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """promote_model (champion unless challenger is named)."""
    if problem := unknown.unknown_alias(clause):
        return problem
    target = slots.target_alias_span(clause)
    sources = [ref for ref in refs if ref.kind == "alias" and target and not ref.start <= target[0] < ref.end]
    # "promote X to champion": that alias is the target; "promote the challenger to champion": the challenger runs
    refs = [ref for ref in refs if ref.kind != "alias"] or sources
    runs = targets(refs, res, single=True)
    if not runs:
        return ask_run("promote", refs)
    args: dict[str, Any] = {"run_id": runs[0], "alias": slots.alias(clause)}
    name = slots.model_name(clause)
    if name:
        args["model_name"] = name
    return [Step("promote_model", args)]


def build_compare(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """compare_runs over two or more runs; "compare X with Y" where X is implicit uses the latest run."""
    runs = list(res.resolve(refs, single=False))
    implicit = res.implicit()
    if len(runs) < 2 and implicit is not None and implicit not in runs:
        runs.insert(0, implicit)
    if len(runs) < 2:
        pronouns = [ref for ref in refs if ref.kind in ("pronoun", "plural")]
        return Clarify(
            "Which runs should I compare? Name two, e.g. 'the last run and the best swinunetr' or two run ids.",
            at=pronouns[0].end if pronouns else None,
        )
    args: dict[str, Any] = {"run_ids": runs}
    metrics = metrics_in(clause)
    if metrics:
        args["metrics"] = metrics
    return [Step("compare_runs", args)]


def build_curves(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """learning_curves of the named runs, else of the run the conversation is about; metrics only when named."""
    runs = targets(refs, res, single=False) if refs or not res.group else list(res.group)
    earlier = res.last_args.get("learning_curves", {}).get("run_ids")
    if (
        not refs
        and res.producer is None
        and res.last_tool == "learning_curves"
        and isinstance(earlier, list)
        and earlier
    ):
        runs = list(earlier)  # "now just the hd95 curve" right after curves: the runs plotted
    if not runs and not refs:  # "can I see the training curves?" with no run in sight: the answer names it
        return Clarify(run_question("plot"), at=len(clause.rstrip(" ?.!")), template="of {}")
    if not runs and any(ref.kind in ("pronoun", "plural") for ref in refs):
        return ask_run("plot", refs, clause)  # "how did it train?" with no run in the conversation
    args: dict[str, Any] = {"run_ids": runs or ["last"]}
    metrics = metrics_in(clause, include_loss=True)
    if metrics:
        args["metrics"] = metrics
    return [Step("learning_curves", args)]


def build_failures(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """get_run for one named run ("why did the last run fail?"), else failure_summary."""
    if any(ref.kind in ("id", "last", "pronoun", "best") for ref in refs):
        runs = res.resolve(refs, single=True)
        if runs:
            return [Step("get_run", {"run_id": runs[0]})]
    return [Step("failure_summary", {})]


def build_param_effect(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """param_effect of the parameter mentioned first, on the metric named (val_dice by default)."""
    found = param_in(clause)
    if found is None:
        return Clarify("Which parameter should I look at: loss, learning rate, model family, patch size or batch size?")
    key, words = found
    rest = clause.replace(words, " ", 1)
    return [Step("param_effect", {"param": key, "metric": first_metric(rest) or "val_dice"})]


def build_leaderboard(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """leaderboard by the metric named; "overall"/"top N runs" ranks runs instead of families."""
    if problem := unknown.unknown_metric(clause):
        return problem
    args: dict[str, Any] = {"metric": first_metric(clause) or "val_dice"}
    if _NOT_GROUPED.search(clause) or (_OVERALL.search(clause) and not _PER_FAMILY.search(clause)):
        args["by_family"] = False
    limit = slots.top_n(clause)
    if in_bounds("leaderboard.limit", limit):
        args["limit"] = limit
    return [Step("leaderboard", args)]


def build_get_run(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """get_run for the one run named."""
    runs = targets(refs, res, single=True, clause=clause)
    if not runs:
        return ask_run("show", refs, clause)
    return [Step("get_run", {"run_id": runs[0]})]


def build_sql(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """query_runs with a canned SELECT."""
    sql = canned_sql(clause)
    if not sql:
        return Clarify("Which question about the runs should I answer?")
    args: dict[str, Any] = {"sql": sql}
    if rows := slots.row_cap(clause):
        args["max_rows"] = rows
    return [Step("query_runs", args)]


def build_registry(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """query_runs listing the registry aliases and the runs behind them (or counting registered models)."""
    if re.search(r"\bhow\s+many\b", clause, re.I):
        return [Step("query_runs", {"sql": REGISTRY_COUNT_SQL})]
    return [Step("query_runs", {"sql": REGISTRY_SQL})]


def build_synthesize(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """synthesize_data; a non-default preset or label noise gets its own folder so the default data survives."""
    if problem := unknown.unknown_preset(clause, ("default", *(name for name, _ in _PRESETS))):
        return problem
    count = slots.volume_count(slots.without_sizes(clause))
    if problem := word_out_of_range({"synthesize_data.n": count}, clause):
        return problem
    count = count if in_bounds("synthesize_data.n", count) else None
    preset = next((name for name, pattern in _PRESETS if re.search(pattern, clause, re.I)), "default")
    noise = bool(_LABEL_NOISE.search(clause))
    args: dict[str, Any] = {}
    if count is not None:
        args["n"] = count
    shape = slots.volume_shape(clause)
    if shape is not None:
        args["shape"] = shape
    seed = slots.seed(clause)
    if seed is not None:
        args["seed"] = seed
    if preset != "default":
        args["preset"] = preset
    if noise:
        args["label_noise"] = True
    name = slots.dataset_name(clause) or (preset if preset != "default" else "noisy_labels" if noise else None)
    if name:
        args["name"] = name
    return [Step("synthesize_data", args)]


_DATASET_PRONOUN: Final = r"\b(?:its|their|(?:that|this|the\s+same)\s+(?:data(?:set)?|folder))\b|\bin\s+it\b"


_THAT_FOLDER: Final = re.compile(r"\b(?:that|this|the\s+same)\s+(?:folder|directory|dir)\b", re.I)
_NEW_DATASET: Final = re.compile(r"\bthe\s+(?:new|newest|latest)\s+(?:dataset|data\s*set|version|data)\b", re.I)


def build_dataset_info(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """dataset_info for the folder named, the version reviews made ("the corrected set", "the new dataset" after an
    import), the dataset "it" means; default the synthetic dataset."""
    named: str | StepOutput | None = slots.directory(clause) or dataset_name(clause)
    if named is None and res.reviewed is not None and (slots.reviewed_dataset(clause) or _NEW_DATASET.search(clause)):
        named = res.reviewed
    pronoun = re.search(_DATASET_PRONOUN, clause, re.I) or _NEW_DATASET.search(clause)
    made = StepOutput(res.made, "path") if res.made is not None else None  # "synth 8 volumes, then check that folder"
    path = named or ((res.dataset or made) if pronoun else None)
    if path is None and _THAT_FOLDER.search(clause):
        return Clarify(DATASET_QUESTION)  # "validate that folder" with no folder in sight: never the default data
    return [Step("dataset_info", {"path": path} if path else {})]


def build_describe(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """describe_warehouse."""
    return [Step("describe_warehouse", {})]


BUILDERS: Final[dict[Intent, Builder]] = {
    "describe_warehouse": build_describe, "synthesize": build_synthesize, "dataset_info": build_dataset_info,
    "predict": build_predict, "registry": build_registry, "promote": build_promote,
    "curves": build_curves, "compare": build_compare, "sql": build_sql, "failures": build_failures,
    "param_effect": build_param_effect, "evaluate": build_evaluate, "get_run": build_get_run,
    "leaderboard": build_leaderboard,
}  # fmt: skip
