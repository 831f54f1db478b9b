"""Vocabulary: numbers in words, model families, metric and parameter names as users write them."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {
    "zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "dozen": 12, "single": 1,
}  # fmt: skip
_TENS: Final = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                "ninety": 90}  # fmt: skip
_SCALES: Final = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_WORD_ALT: Final = "|".join(sorted([*_UNITS, *_TENS, *_SCALES, "half"], key=len, reverse=True))
# Number words that stand for a count on their own ("a", "an", "single" and "half" only inside a longer number).
_COUNT_WORD_ALT: Final = "|".join(sorted([w for w in [*_UNITS, *_TENS, *_SCALES] if w not in ("a", "an", "single")],
                                         key=len, reverse=True))  # fmt: skip
NUMBER_WORDS: Final = rf"(?:(?:{_COUNT_WORD_ALT})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD_ALT}))*)\b"

# A number as digits (1, 2.5, 1e-3, .5) or in words ("twenty five", "a hundred", "half an").
NUM: Final = rf"(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|\.\d+|(?:(?:{_WORD_ALT})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD_ALT}))*)\b)"

FAMILY_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("segresnet", r"seg[\s_-]?res[\s_-]?net"),
    ("swinunetr", r"swin[\s_-]?unet[\s_-]?r?|swin(?:[\s_-]?transformer)?"),
    ("dynunet", r"dyn[\s_-]?unet|nn[\s_-]?u[\s_-]?net(?:[\s_-]?style)?|nnunet"),
)
FAMILY_RE: Final = re.compile(r"\b(?:" + "|".join(f"(?P<{n}>{p})" for n, p in FAMILY_PATTERNS) + r")s?\b", re.I)
FAMILY_ALT: Final = "|".join(p for _, p in FAMILY_PATTERNS)
FAMILIES: Final = tuple(name for name, _ in FAMILY_PATTERNS)

# Metric words → the suffix after val_/test_/train_; order matters (clDice before Dice).
METRIC_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("cldice", r"cl[\s_-]?dice"),
    ("nsd", r"nsd|(?:normali[sz]ed\s+)?surface[\s_-]?dice"),
    ("hd95", r"hd[\s_-]?95|hausdorff(?:[\s_-]?(?:distance|95))?"),
    ("dice", r"dice(?![\s_+-]*(?:ce|cross|and\s+ce|\+(?!\s*(?:val|test)[\s_])))"),  # "dice+ce" is a loss
    ("loss", r"loss"),
)
METRIC_ALT: Final = "|".join(f"(?:{p})" for _, p in METRIC_PATTERNS)
_METRIC_RE: Final = re.compile(
    r"\b(?P<split>val(?:idation)?|test|train(?:ing)?)?[\s_]*(?:"
    + "|".join(f"(?P<{n}>{p})" for n, p in METRIC_PATTERNS)
    + r")(?:[\s_-]?scores?)?\b",
    re.I,
)

# Parameter words → dotted config keys (for param_effect), checked in this order.
PARAM_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("loss.name", r"cl[\s_-]?dice(?:\s+loss)?|topolog\w*(?:[\s-]+aware)?(?:\s+loss)?|(?:the\s+)?loss(?:\s+function)?"),
    ("optim.lr", r"learning[\s-]+rates?|\blrs?\b"),
    ("data.patch_size", r"patch(?:es|[\s_-]?sizes?)?|crop(?:\s+sizes?)?"),
    ("trainer.batch_size", r"batch(?:[\s_-]?sizes?)?"),
    ("trainer.epochs", r"epochs?|(?:training\s+)?length"),
    ("trainer.seed", r"seeds?"),
    ("model.name", r"model(?:\s+famil(?:y|ies))?|architectures?|famil(?:y|ies)|backbones?|networks?"),
)


def parse_number(text: str) -> float | None:
    """A number written in digits or English words ("1e-3", "twenty five", "a hundred", "five thousand"); None if
    not one."""
    raw = text.strip().lower().replace(",", "")
    try:
        return float(raw)
    except ValueError:
        pass
    words = [w for w in re.split(r"[\s-]+", raw) if w and w != "and"]
    if not words:
        return None
    if words[0] == "half":
        return 6.0 if "dozen" in words else 0.5
    if len(words) > 1:
        words = [w for w in words if w not in ("a", "an")] or words  # "a hundred", "a dozen"
    total, current = 0, 0
    for word in words:
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:  # "two thousand three hundred": each thousand/million closes a group
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
    return float(total + current)


def parse_int(text: str) -> int | None:
    """`parse_number` for whole numbers; None for fractions or non-numbers."""
    value = parse_number(text)
    if value is None or value != int(value):
        return None
    return int(value)


def families_in(text: str) -> list[tuple[int, int, str]]:
    """(start, end, family) of every model family mentioned, in order."""
    found: list[tuple[int, int, str]] = []
    for match in FAMILY_RE.finditer(text):
        name = next(n for n in FAMILIES if match.group(n))
        found.append((match.start(), match.end(), name))
    return found


def metric_name(match: re.Match[str], default_split: str = "val") -> str:
    """The logged metric key for a `_METRIC_RE` match ("test dice" → test_dice, "loss" → train_loss)."""
    base = next(n for n, _ in METRIC_PATTERNS if match.group(n))
    split = (match.group("split") or "").lower()
    if base == "loss":
        return "train_loss"
    if split.startswith("train"):
        return f"train_{base}"
    if split == "test":
        return f"test_{base}"
    return f"{default_split}_{base}"


def metrics_in(text: str, *, include_loss: bool = False) -> list[str]:
    """Logged metric keys mentioned in `text`, in order and without repeats."""
    keys: list[str] = []
    for match in _METRIC_RE.finditer(text):
        key = metric_name(match)
        if key == "train_loss" and not include_loss:
            continue
        if key not in keys:
            keys.append(key)
    return keys


def first_metric(text: str) -> str | None:
    """The first validation/test metric mentioned (losses ignored), or None."""
    keys = metrics_in(text)
    return keys[0] if keys else None


_DOTTED_KEY: Final = re.compile(r"\b(?:trainer|optim|model|loss|data)\.[a-z_]+\b")


def param_in(text: str) -> tuple[str, str] | None:
    """(dotted key, the matched words) of the parameter mentioned first; ties go by PARAM_PATTERNS order."""
    best: tuple[int, str, str] | None = None
    dotted = _DOTTED_KEY.search(text)  # "does mixed precision (trainer.amp) change val_dice": a config key as written
    if dotted:
        best = (dotted.start(), dotted.group(0), dotted.group(0))
    for key, pattern in PARAM_PATTERNS:
        match = re.search(rf"\b(?:{pattern})", text, re.I)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), key, match.group(0))
    return (best[1], best[2]) if best else None
