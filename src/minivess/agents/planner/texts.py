"""Fixed texts (help, refusals, questions) and step descriptions that the planner itself can parse back."""

from __future__ import annotations

from typing import Any, Final

from minivess.agents.planner.models import Step, StepOutput

EXAMPLES: Final = (
    '"train segresnet for 5 epochs with clDice loss"',
    '"show the leaderboard by clDice"',
    '"compare the last run with the best swinunetr"',
    '"did clDice loss help?"',
    '"generate 8 synthetic volumes of 64x64x32 with seed 3"',
)
HELP_TEXT: Final = (
    "I run and analyse 3D vessel-segmentation experiments. I can:\n"
    '- train a model (segresnet, swinunetr, dynunet): "train swinunetr for 20 epochs with lr 1e-4, patch 64x64x32, '
    'within 30 minutes"\n'
    '- evaluate or use a run: "evaluate the last run on the test set", "segment data/raw/vol.nii.gz with the best '
    'segresnet", "promote that run to champion"\n'
    '- rank and compare runs: "show the leaderboard by clDice", "compare run <id> with the best dynunet", '
    '"plot the learning curves of the last run"\n'
    '- explain results: "why did the last run fail?", "which runs failed?", "does the learning rate matter for '
    'clDice?", "how many runs are there?", or any SQL SELECT over the run warehouse ("what tables can I query?")\n'
    '- make data: "generate 8 synthetic volumes with label noise", "describe the dataset at data/synthetic"\n'
    '- trust and combine runs: "is the best segresnet over-confident?", "a mask for the champion that misses at most '
    '5 % of vessels", "average our three best runs", "make a greedy soup of the last run", "run the weight quality '
    'gate on the champion"\n'
    '- fix labels with a reviewer: "find suspicious labels", "queue the top 20 suspicious slices for review", '
    '"how is the review going?", "import the reviews"\n'
    'Several steps work too: "train segresnet for 2 epochs, then compare it with the best swinunetr".'
)
FAMILY_QUESTION: Final = (
    "Which model family should I train: segresnet (fast), swinunetr (transformer, slow on CPU) or dynunet "
    "(nnU-Net style)?"
)

UNCERTAINTY_QUESTION: Final = (
    "Where should I write the uncertainty map? Give a .nii.gz path, e.g. out/uncertainty.nii.gz."
)
DATASET_QUESTION: Final = (
    "Which dataset folder do you mean? Give its path (a folder with raw/ and seg/, e.g. data/minivess); without one "
    "I would use the default synthetic dataset."
)
REVIEWED_QUESTION: Final = (
    "Which dataset folder should I use? No reviews have been imported in this conversation, so there is no "
    "reviewed version yet: give its path, or say 'import the reviews' first."
)
_STRATEGY_WORDS: Final = {"mean": "mean", "vote": "majority-vote", "weighted": "weighted"}


def cannot_text(reason: str) -> str:
    """A plain refusal: what, why in a few words, and what to ask instead."""
    return f"I can't {reason}. I can, for example: {', '.join(EXAMPLES[:3])}."


def unknown_text(fragment: str, understood: list[str]) -> str:
    """What was not understood, what was, and examples."""
    shown = fragment if len(fragment) <= 80 else fragment[:77] + "..."
    done = f" I understood: {'; '.join(understood)}." if understood else ""
    return (
        f'I did not understand "{shown}".{done} Try for example: {", ".join(EXAMPLES)} '
        '(say "help" for everything I can do).'
    )


def run_question(action: str) -> str:
    """Ask which run an action should use."""
    return (
        f"Which run should I {action}? Give a run id, or say e.g. 'the last run' or 'the best segresnet' "
        "(or 'the best swinunetr by clDice')."
    )


def render_ref(value: Any, done_ids: dict[int, str] | None = None) -> str:
    """A run reference as text the planner parses back ("run <id>", "the last run", "best:segresnet")."""
    if isinstance(value, StepOutput):
        known = (done_ids or {}).get(value.step)
        return f"run {known}" if known else f"the run from step {value.step + 1}"
    text = str(value)
    if text == "last":
        return "the last run"
    if text == "best":
        return "the best model"
    if text.startswith("best:"):
        return text
    return f"run {text}"


def render_dataset(value: Any) -> str:
    """A dataset argument as text: its folder, or the version an earlier step of the plan makes."""
    if isinstance(value, StepOutput):
        return f"the dataset version from step {value.step + 1}"
    return str(value)


def _train(args: dict[str, Any]) -> str:
    parts = [f"train {args.get('model', 'a model')}"]
    if args.get("epochs"):
        parts.append(f"for {args['epochs']} epoch{'' if args['epochs'] == 1 else 's'}")
    if isinstance(args.get("lr"), int | float):
        parts.append(f"with lr {args['lr']:g}")
    if args.get("loss"):
        parts.append("with clDice loss" if args["loss"] == "dice_ce_cldice" else "with dice+ce loss")
    if args.get("batch_size"):
        parts.append(f"batch size {args['batch_size']}")
    if args.get("patch_size"):
        parts.append("patch " + "x".join(str(v) for v in args["patch_size"]))
    if isinstance(args.get("max_minutes"), int | float) and args["max_minutes"]:
        parts.append(f"within {args['max_minutes']:g} minutes")
    if args.get("dataset"):
        parts.append(f"on {render_dataset(args['dataset'])}")
    if args.get("seed") is not None:
        parts.append(f"seed {args['seed']}")
    if args.get("device"):
        parts.append(f"on device {args['device']}")
    if args.get("register_as"):
        parts.append(f"and register it as {args['register_as']}")
    return " ".join(parts)


def _synth(args: dict[str, Any]) -> str:
    text = f"generate {args['n']} synthetic volumes" if args.get("n") else "generate synthetic volumes"
    if args.get("shape"):
        text += " of " + "x".join(str(v) for v in args["shape"])
    if args.get("seed") is not None:
        text += f" with seed {args['seed']}"
    if args.get("preset"):
        text += f", preset {args['preset']}"
    if args.get("label_noise"):
        text += ", with label noise"
    return text + (f", called {args['name']}" if args.get("name") else "")


def _leaderboard(args: dict[str, Any]) -> str:
    scope = "best run per family" if args.get("by_family", True) else "overall"
    text = f"show the leaderboard by {args.get('metric', 'val_dice')} ({scope}"
    return text + (f", top {args['limit']})" if "limit" in args else ")")


def _predict(args: dict[str, Any], ref: str) -> str:
    text = f"segment {args.get('input_path')} with {ref}"
    if args.get("output_path"):
        text += f" and save it to {args['output_path']}"
    if args.get("risk_fnr") is not None:
        text += f", missing at most {args['risk_fnr']:g} of vessel voxels"
    if args.get("uncertainty_path"):
        text += f", and write the uncertainty map to {args['uncertainty_path']}"
    return text


def _ensemble(args: dict[str, Any], refs: str) -> str:
    kind = _STRATEGY_WORDS.get(str(args.get("strategy", "mean")), "mean")
    if args.get("top_k") is not None:
        family = f" {args['family']}" if args.get("family") else ""
        return f"build a {kind} ensemble of the {args['top_k']} best{family} runs"
    return f"build a {kind} ensemble of {refs}"


def _conformal(args: dict[str, Any], ref: str) -> str:
    alpha = f" at alpha {args['alpha']:g}" if args.get("alpha") is not None else ""
    return f"choose the conformal mask threshold of {ref}{alpha}"


def _of(args: dict[str, Any]) -> str:
    return f" of {render_dataset(args['dataset'])}" if args.get("dataset") else ""


def _label_issues(args: dict[str, Any]) -> str:
    text = f"find label issues{_of(args)}"
    extra = [f"with {args['folds']} folds"] if args.get("folds") is not None else []
    if args.get("epochs") is not None:
        extra.append(f"{args['epochs']} epoch{'' if args['epochs'] == 1 else 's'} per fold")
    if args.get("top") is not None:
        extra.append(f"listing the {args['top']} most suspicious slices")
    return ", ".join([text, *extra])


def _queue(args: dict[str, Any], ref: str) -> str:
    count = f"the top {args['top_k']}" if args.get("top_k") is not None else "the most"
    text = f"queue {count} suspicious slices{_of(args)} for review"
    return text + (f", showing the predictions of {ref}" if args.get("run_id") else "")


_ALIASES: Final = ("champion", "challenger")  # model_card names these as "the champion"


def describe_step(step: Step, done_ids: dict[int, str] | None = None) -> str:
    """A one-line, human-readable description of a step that `build_plan` maps back to the same step."""
    args = step.args

    def ref(key: str) -> str:
        return render_ref(args.get(key), done_ids)

    def refs(key: str) -> str:
        return " and ".join(render_ref(v, done_ids) for v in args.get(key, []))

    texts: dict[str, Any] = {
        "train_model": lambda: _train(args),
        "evaluate_run": lambda: f"evaluate {ref('run_id')} on the {_split_word(args.get('split', 'test'))} set",
        "predict_volume": lambda: _predict(args, ref("run_id")),
        "promote_model": lambda: (
            f"promote {ref('run_id')} to {args.get('alias', 'champion')}"
            + (f" under the name {args['model_name']}" if args.get("model_name") else "")
        ),
        "synthesize_data": lambda: _synth(args),
        "dataset_info": lambda: (
            f"describe the dataset at {args['path']}" if args.get("path") else "describe the dataset"
        ),
        "leaderboard": lambda: _leaderboard(args),
        "compare_runs": lambda: f"compare {refs('run_ids')}",
        "get_run": lambda: f"show the details of {ref('run_id')}",
        "learning_curves": lambda: (
            f"plot the learning curves of {refs('run_ids')}"
            + (f" for {' and '.join(args['metrics'])}" if args.get("metrics") else "")
        ),
        "failure_summary": lambda: "summarise the failed runs by error type",
        "param_effect": lambda: f"show the effect of {args.get('param')} on {args.get('metric', 'val_dice')}",
        "query_runs": lambda: f"run this SQL: {args.get('sql')}",
        "describe_warehouse": lambda: "describe the warehouse tables and columns",
        "calibrate_run": lambda: f"calibrate {ref('run_id')}",
        "conformal_calibrate": lambda: _conformal(args, ref("run_id")),
        "build_ensemble": lambda: _ensemble(args, refs("run_ids")),
        "greedy_soup": lambda: f"make a greedy soup of {ref('run_id')}",
        "quality_gate": lambda: f"run the weight quality gate on {ref('run_id')}",
        "find_label_issues": lambda: _label_issues(args),
        "queue_for_review": lambda: _queue(args, ref("run_id")),
        "review_status": lambda: f"show the review status{_of(args)}",
        "import_reviews": lambda: f"import the finished reviews{_of(args)} as a new dataset version",
        "start_search": lambda: _search(args),
        "search_status": lambda: f"show the status of search {args.get('search_id', 'last')}".replace(
            "search last", "the last search"
        ),
        "model_card": lambda: (
            "write the model card of "
            + (f"the {args['model']}" if str(args.get("model", "champion")) in _ALIASES else ref("model"))
        ),
        "check_drift": lambda: _drift(args, ref("model")),
    }
    make = texts.get(step.tool)
    return str(make()) if make else f"call {step.tool}"


def _drift(args: dict[str, Any], model: str) -> str:
    named = str(args.get("model", "champion"))
    owner = f"the {named}" if named in _ALIASES else model
    against = f"against the training data of {owner}"
    if args.get("reference"):
        against = f"against {args['reference']}" + (f" with the predictions of {owner}" if args.get("model") else "")
    return f"check {render_dataset(args.get('current'))} for drift {against}"


def _search(args: dict[str, Any]) -> str:
    parts = ["start a model search"]
    if args.get("families"):
        parts.append("over " + " and ".join(args["families"]))
    if args.get("dataset"):
        parts.append(f"on {args['dataset']}")
    if args.get("budget_minutes") is not None:
        parts.append(f"for {args['budget_minutes']:g} minutes")
    if args.get("trials") is not None:
        parts.append(f"with {args['trials']} trials")
    if args.get("epochs") is not None:
        parts.append(f"and {args['epochs']} epochs per trial")
    return " ".join(parts)


def _split_word(split: str) -> str:
    return {"val": "validation", "train": "training"}.get(split, split)
