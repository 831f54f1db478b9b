"""The training builder: train_model per model family named, with the options written for it, the last training's
setup when the request repeats it, and the dataset "it" means."""

from __future__ import annotations

import itertools
import re
from typing import Any, Final

from minivess.agents.planner import slots, unknown
from minivess.agents.planner.bounds import BOUNDS
from minivess.agents.planner.builders import Builder, Built, in_bounds, word_out_of_range
from minivess.agents.planner.datasets import dataset_name
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.lexicon import FAMILIES, families_in
from minivess.agents.planner.models import Clarify, Step, StepOutput
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver
from minivess.agents.planner.texts import DATASET_QUESTION, FAMILY_QUESTION, REVIEWED_QUESTION

_JOIN: Final = re.compile(r"^[\s,]*(?:and|&|\+|plus|as\s+well\s+as|then)?[\s,]*(?:an?\s+|the\s+|one\s+)?$", re.I)
_ALL_FAMILIES: Final = re.compile(
    r"\b(?:all|each|every)\s+(?:(?:three|3|of\s+the)\s+)?(?:model\s+)?(?:models|families|family|architectures)\b", re.I
)
_LIST_END: Final = re.compile(r"(?:,|\band|\bthen|\bplus)\s*(?:an?\s+|the\s+)?$", re.I)
_ON_IT: Final = re.compile(
    r"\bon\s+(?:it|them|that|this|the\s+same)(?:\s+(?:data(?:set)?|folder|one))?\b"
    r"|\bon\s+(?:those|these|the\s+new)\s+(?:volumes|images|stacks|data)\b",
    re.I,
)
# "train it again", "same thing but with lr 5e-4", "the same model again": repeat the conversation's last training.
AGAIN: Final = re.compile(
    r"\b(?:same\s+(?:thing|model|run|setup|config(?:uration)?|experiment|settings?|training)|again\b"
    r"|(?:retrain|re-?run)\s+(?:it|that|this)|\bretry\b|\brepeat\s+(?:exactly\s+)?(?:it|that|this)\b"
    r"|\b(?:do\s+)?the\s+same\s+(?:for|with)\b)",
    re.I,
)
# "same thing but with swinunetr": another family with the last training's options ("train dynunet again" is not)
_SAME_SETUP: Final = re.compile(
    r"\bsame\s+(?:thing|setup|config\w*|settings?|experiment|training|run|options|hyper-?parameters)\b|\bretry\b"
    r"|\b(?:re-?run|redo|repeat)\s+(?:it|that|this|exactly)\b|\b(?:do\s+)?the\s+same\s+(?:for|with)\b",
    re.I,
)


def _train_segments(clause: str) -> list[tuple[str, str]]:
    """(family, text whose options apply to it): "segresnet and swinunetr for 2 epochs" shares the options,
    "segresnet for 2 epochs and dynunet for 3 epochs" gives each family its own."""
    found = families_in(clause)
    if not found and _ALL_FAMILIES.search(clause):
        return [(name, clause) for name in FAMILIES]
    if not found:
        return []
    groups: list[list[tuple[int, int, str]]] = [[found[0]]]
    for (_, end, _), item in itertools.pairwise(found):
        between = clause[end : item[0]]
        if _JOIN.match(between):
            groups[-1].append(item)
        elif _LIST_END.search(between):
            groups.append([item])
        else:
            break
    segments: list[tuple[str, str]] = []
    for number, group in enumerate(groups):
        start = 0 if number == 0 else group[0][0]
        end = groups[number + 1][0][0] if number + 1 < len(groups) else len(clause)
        names = list(dict.fromkeys(name for _, _, name in group))
        segments.extend((name, clause[start:end]) for name in names)
    return segments


def train_options(clause: str) -> dict[str, Any] | Clarify:
    """The training options written in ``clause`` (epochs, lr, loss, sizes, budget, folder, seed, name); values out
    of range are left out so the accounting pass asks about them, or a question when one is written in words."""
    patch = slots.patch_size(clause)
    if patch is not None and min(patch) < 1:
        return Clarify("Which patch size (X×Y×Z, e.g. 64x64x32)? Each side must be at least 1.", "patch {}")
    values: dict[str, Any] = {
        "epochs": slots.epochs(clause), "lr": slots.learning_rate(clause), "loss": slots.loss(clause),
        "batch_size": slots.batch_size(clause), "patch_size": patch, "max_minutes": slots.budget_minutes(clause),
        "dataset": slots.directory(clause) or dataset_name(clause), "seed": slots.seed(clause),
        "register_as": slots.register_as(clause), "device": slots.device(clause),
    }  # fmt: skip
    if problem := word_out_of_range(values, clause):
        return problem
    bounded = {key for key in values if key in BOUNDS}
    return {
        key: value
        for key, value in values.items()
        if value is not None and (key not in bounded or in_bounds(key, value))
    }


def build_train(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """train_model per model family named (asks when none is)."""
    segments = _train_segments(clause)
    repeat = res.last_train if AGAIN.search(clause) else None  # "same thing but with swinunetr": its options too
    if not segments and repeat is not None and isinstance(repeat.get("model"), str):
        segments = [(repeat["model"], clause)]
    if not segments:
        return unknown.unknown_family(clause) or Clarify(FAMILY_QUESTION)
    if problem := unknown.unknown_loss(clause):
        return problem
    steps: list[Step] = []
    for family, text in segments:
        if slots.device(text) is None and (problem := unknown.unknown_device(text)):
            return problem  # per model: "segresnet on gpu1 and swinunetr on a tpu" asks about the tpu
        options = train_options(text)
        if isinstance(options, Clarify):
            return options
        alias = str(options.get("register_as", "")).lower()
        same = repeat is not None and (family == repeat.get("model") or _SAME_SETUP.search(clause))
        earlier = {k: v for k, v in (repeat or {}).items() if k != "model"} if same else {}
        on_it = _ON_IT.search(text) if "dataset" not in options else None
        if on_it is not None:
            # "check data/x, then train dynunet on it", "synthesize 6 volumes named tiny6 and train segresnet on them"
            made = StepOutput(res.made, "path") if res.made is not None else None
            known = res.dataset or made
            if known is not None:
                options["dataset"] = known
            elif "dataset" not in earlier and not slots.reviewed_dataset(text):
                return Clarify(DATASET_QUESTION, at=on_it.end())  # "on it" with no dataset in sight: never the default
        reviewed = None if "dataset" in options else slots.reviewed_dataset(text)
        if reviewed is not None:  # "train segresnet on the reviewed dataset": the version import_reviews made
            if res.reviewed is None:
                return Clarify(REVIEWED_QUESTION, at=reviewed.start(), span=reviewed.span())
            options["dataset"] = res.reviewed
        steps.append(Step("train_model", {"model": family, **earlier, **options}))
        if alias in ("champion", "challenger"):
            steps[-1].args.pop("register_as")
            # StepOutput(-1): "the step just before" (made absolute when the plan is assembled)
            steps.append(Step("promote_model", {"run_id": StepOutput(-1), "alias": alias}))
    return steps


TRAIN_BUILDERS: Final[dict[Intent, Builder]] = {"train": build_train}
