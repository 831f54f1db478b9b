"""Names the planner cannot use: an unknown loss, model, split, alias, preset or metric is asked about by name.

Without these checks "train segresnet with focal loss" would train with the default loss and "rank runs by
specificity" would rank by Dice: a silent default. Each check finds the word the user wrote in the place such a
name goes and returns a question whose answer replaces that word.
"""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner.lexicon import FAMILIES, families_in, first_metric
from minivess.agents.planner.models import Clarify


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORD: Final = r"['\"`]?(?P<w>[A-Za-z][\w+.-]*)['\"`]?"
_COMMON: Final = _words(
    "a an the this that these those my our your its their same usual default standard new current it "
    "one some any another other again with without no not and or of on in for to by from as at all "
    "each every"
)
_LOSS_WORDS: Final = (re.compile(rf"\b{_WORD}\s+loss\b", re.I), re.compile(rf"\bloss\s*[=:]\s*{_WORD}", re.I))
_KNOWN_LOSS: Final = _words(
    "dice ce cldice cl-dice cl_dice dice_ce dice_ce_cldice dice+ce dice-ce dicece dice-ce-cldice topology topological "
    "topology-aware plain combined training train val validation lower higher low high best"
)
_CROSS_ENTROPY: Final = re.compile(r"(?:cross[\s_-]?)?entropy|xent|ce", re.I)
_DICE_AND: Final = re.compile(r"\bdice\s*(?:\+|&|/|and|plus|with)\s*(?:cross[\s_-]?)?$", re.I)
_TRAIN_WORD: Final = re.compile(rf"\b(?:re-?)?train\s+(?:(?:a|an|the|my|our|new|fresh)\s+)?{_WORD}", re.I)
_KNOWN_TRAIN_OBJECT: Final = _words(
    "model models network net something it again one on for with using from segmentation seg "
    "baseline quick small tiny big large run for until"
)
_SPLIT_WORD: Final = re.compile(
    rf"\b(?:on|against|using|with)\s+(?:the\s+)?{_WORD}\s+(?:split|set|partition|fold)\b", re.I
)
_KNOWN_SPLIT: Final = _words("val valid validation test testing train training held-out heldout same whole entire")
_ALIAS_WORD: Final = (
    re.compile(rf"\bto\s+(?:the\s+)?(?:new\s+)?{_WORD}(?:\s+(?:alias|stage|slot))?\s*[.!?]*$", re.I),
    re.compile(rf"\b{_WORD}\s+alias\b", re.I),  # "move the staging alias to the best run"
)
_KNOWN_ALIAS: Final = _words("champion challenger production prod registry mlflow")
_PRESET_WORDS: Final = (
    re.compile(rf"\b{_WORD}\s+preset\b", re.I),
    re.compile(rf"\bpreset\s+(?:called\s+|named\s+)?{_WORD}", re.I),
    re.compile(r"\b(?P<w>[A-Za-z][\w+.]*)-preset\b", re.I),  # "a foggy-preset set"
)
_KNOWN_PRESET: Final = _words(
    "default small tiny minivess minivess-like shifted shift noisy noisy_labels noisy-labels labels realistic "
    "set dataset data volumes synthetic generator please pls thanks so and then"
)
_METRIC_WORD: Final = re.compile(
    rf"\b(?:by|on|using|in\s+terms\s+of|according\s+to|wrt)\s+(?:the\s+)?(?:(?:val(?:idation)?|test)[\s_])?{_WORD}",
    re.I,
)
_NOT_METRICS: Final = _words(
    "family families model models run runs architecture architectures far now default each all "
    "overall score scores metric metrics performance results it them"
)


KNOWN_METRICS: Final = "val_dice, val_cldice, val_nsd, val_hd95 (test_… after an evaluation) and train_loss"
# A metric-shaped key the runs do not log: val_/test_/train_ + an unknown name, or a classification metric
_METRIC_KEY: Final = re.compile(
    r"(?<![.\w/])(?:(?:val|test|train)_(?!(?:dice|cldice|nsd|hd95|loss|model|set|split|data|folds?)\b)[a-z][a-z0-9_]*"
    r"|(?:val(?:idation)?|test)[\s_-]+(?:accuracy|acc|iou|jaccard|specificity|sensitivity|precision|recall|f1|auc))\b",
    re.I,
)


def _ask(word: re.Match[str], question: str) -> Clarify:
    start, end = word.span("w")
    return Clarify(question, at=start, span=(start, end))


def _unknown(
    patterns: re.Pattern[str] | tuple[re.Pattern[str], ...], clause: str, known: frozenset[str]
) -> re.Match[str] | None:
    """The first word in a name's place that is neither a known name, a common word nor a model family ("train
    dynunet loss=tversky": "dynunet loss" is no loss name, "tversky" is)."""
    for pattern in patterns if isinstance(patterns, tuple) else (patterns,):
        for match in pattern.finditer(clause):
            word = (match.group("w") or "").lower().rstrip(".,;")
            if word and word not in known and word not in _COMMON and not families_in(word):
                return match
    return None


_LOSS_TERMS: Final = frozenset({"dice", "ce", "cldice", "cl"})


def _known_parts(word: str) -> bool:
    """ "dice+clDice", "Dice/CE": a combination of the loss terms the tool has is no unknown loss."""
    parts = [part for part in re.split(r"[+/&_-]+", word.lower()) if part]
    return len(parts) > 1 and "dice" in parts and all(part in _LOSS_TERMS for part in parts)


def unknown_loss(clause: str) -> Clarify | None:
    """ "focal loss": not one of the losses the training tool has."""
    match = _unknown(_LOSS_WORDS, clause, _KNOWN_LOSS)
    if match is None or families_in(match.group("w")) or _known_parts(match.group("w")):
        return None
    if _CROSS_ENTROPY.fullmatch(match.group("w")) and _DICE_AND.search(clause[: match.start("w")]):
        return None  # "dice + cross-entropy loss": dice_ce, written out
    return _ask(
        match,
        f"I can't train with a '{match.group('w')} loss': the losses are dice_ce (Dice + cross-entropy) and "
        "dice_ce_cldice (adds soft clDice for topology). Which one should I use?",
    )


def unknown_family(clause: str) -> Clarify | None:
    """ "train unetr++": a model family the catalog does not have."""
    match = _unknown(_TRAIN_WORD, clause, _KNOWN_TRAIN_OBJECT)
    if match is None or families_in(match.group("w")) or first_metric(match.group("w")):
        return None
    return _ask(
        match,
        f"I don't know the model '{match.group('w')}'. I can train {', '.join(FAMILIES)}: which one should I use?",
    )


# Words that look like a segmentation model ("unet3d", "unetr", "transunet", "vnet", "nnformer").
_MODEL_WORD: Final = re.compile(
    r"(?<![\w/.-])(?P<w>[A-Za-z0-9+]*(?:u-?net|former|vnet|v-net|resnet|densenet|deeplab)[A-Za-z0-9+]*)(?![\w/.-])",
    re.I,
)


def unknown_model_word(clause: str) -> Clarify | None:
    """ "ensemble the best three unet3d runs", "search over unetr and segresnet": a model the catalog lacks."""
    known = [(start, end) for start, end, _ in families_in(clause)]
    for match in _MODEL_WORD.finditer(clause):
        if any(start <= match.start() < end for start, end in known) or families_in(match.group("w")):
            continue
        return _ask(
            match,
            f"I don't know the model '{match.group('w')}'. The model families are {', '.join(FAMILIES)}: which one "
            "should I use?",
        )
    return None


_TWO_WORD_SPLIT: Final = re.compile(
    r"\b(?:on|against|using|with)\s+(?:the\s+|our\s+|my\s+)?(?P<w>[A-Za-z][\w-]*\s+[A-Za-z][\w-]*)\s+(?:split|partition)\b",
    re.I,
)


def unknown_split(clause: str) -> Clarify | None:
    """ "on the calibration split", "on the external cohort split": the data has train, val and test splits only."""
    match = _unknown(_SPLIT_WORD, clause, _KNOWN_SPLIT)
    if match is None:
        two = _TWO_WORD_SPLIT.search(clause)
        words = set(two.group("w").lower().split()) if two else set()
        if two is None or words & (_KNOWN_SPLIT | {"held", "out"}):
            return None
        match = two
    return _ask(
        match, f"There is no '{match.group('w')}' split: the splits are train, val and test. Which one should I use?"
    )


def unknown_alias(clause: str) -> Clarify | None:
    """ "promote … to staging": the registry aliases are champion and challenger."""
    match = _unknown(_ALIAS_WORD, clause, _KNOWN_ALIAS)
    if match is None or families_in(match.group("w")):
        return None
    return _ask(
        match,
        f"There is no '{match.group('w')}' alias: the registry aliases are champion (production) and challenger. "
        "Which one should I point at the run?",
    )


def unknown_preset(clause: str, presets: tuple[str, ...]) -> Clarify | None:
    """ "the foggy preset": not one of the generator's presets."""
    match = _unknown(_PRESET_WORDS, clause, _KNOWN_PRESET | set(presets))
    if match is None:
        return None
    return _ask(
        match,
        f"There is no '{match.group('w')}' preset: the generator presets are {', '.join(presets)}. Which one?",
    )


def unknown_metric(clause: str) -> Clarify | None:
    """ "rank runs by specificity": a word in a ranking metric's place, only when no known metric is named."""
    if first_metric(clause):
        return None
    match = _unknown(_METRIC_WORD, clause, _NOT_METRICS)
    if match is None or families_in(match.group("w")):
        return None
    return _ask(match, f"I can't rank by '{match.group('w')}': the runs log {KNOWN_METRICS}. Which one should I use?")


def unknown_metric_key(clause: str, used: str) -> Clarify | None:
    """ "val_specificity", "test accuracy" anywhere in a clause and in no planned argument (`used`): a metric key
    the runs do not log gets a question, never the default metric."""
    used = used.lower()
    for match in _METRIC_KEY.finditer(clause):
        if match.group(0).lower() not in used:
            return Clarify(
                f"The runs log no metric '{match.group(0)}': they log {KNOWN_METRICS}. Which one should I use?",
                at=match.start(),
                span=match.span(),
            )
    return None


_OTHER_DEVICE: Final = re.compile(
    r"\b(?:on|using|use|with|via|across)\s+(?:the\s+|a\s+|an\s+|my\s+|our\s+)?"
    r"(?P<w>tpus?|xpus?|npus?|ipus?|hpus?|gpus|(?:\d+|two|three|four|eight|multiple|several|all(?:\s+the)?|both)\s+gpus"
    r"|(?:first|second|third|fourth|other|another|next|free|idle)\s+gpu)\b"
    r"|\b(?P<neg>(?:don'?t|do\s+not|never)\s+use\s+(?:the\s+)?(?:gpu|cuda)\s*[:#]?\s*\d+)",
    re.I,
)


def unknown_device(clause: str) -> Clarify | None:
    """ "train on a TPU", "on 2 GPUs": a device the training tool cannot use (one device: cpu, cuda[:N] or mps)."""
    match = _OTHER_DEVICE.search(clause)
    if match is None:
        return None
    if match.group("neg"):  # "don't use gpu0" with no GPU named: which one then?
        return Clarify(
            f"I can't rule a GPU out ('{match.group('neg')}'): training runs on the one device you name, e.g. cuda:1, "
            "or auto (the default). Which one should I use?",
            at=match.start("neg"),
            span=match.span("neg"),
        )
    return _ask(
        match,
        f"I can't train on '{match.group('w')}': training runs on one device, auto (the default), cpu, cuda, "
        "cuda:N (one GPU, e.g. cuda:1) or mps. Which one should I use?",
    )
