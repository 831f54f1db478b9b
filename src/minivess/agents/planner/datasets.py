"""A dataset named in a request ("the noisy_labels dataset", "in noisy_demo", "on dataset lab_v3"): the tools look
a name up under the data dir, so the planner passes it on rather than drop it."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner import keyvalue
from minivess.agents.planner.lexicon import families_in, metrics_in

_I: Final = re.I
# "the noisy_labels dataset": a dataset by name (the tools look it up under the data dir).
_NAMED_DATASET: Final = re.compile(
    r"\b(?:in|of|on|over|for|from|with)\s+(?:the\s+|our\s+|my\s+)?['\"`]?(?P<w>[A-Za-z][\w.+-]*)['\"`]?\s+"
    r"(?:dataset|data\s*set|data|volumes)\b",
    _I,
)
# "find label issues in noisy_demo", "review progress on batch3": a bare name with a digit or an underscore
_BARE_DATASET: Final = re.compile(
    r"\b(?:in|of|on|over|for|from|(?:annotators?|reviewers?|labell?ers?)\s+with)\s+['\"`]?(?P<w>(?!(?:val|test|train)_|[0-9a-f]{6,}\b|[\w.+-]*\.(?:nii|gz)\b)"
    r"(?!(?:gpu|cuda|fp|mv|vol(?:ume)?)\d+\b)[A-Za-z][\w.+-]*?(?:_|\d)[\w.+-]*?)['\"`]?(?![\w.+/:-]|'s)"
    r"(?!\s+to\s+(?:review|annotate|check|correct|fix)\b)",  # "for maria_k to review": a person
    _I,
)
_KNOWN_DATASET_WORDS: Final = frozenset(
    re.findall(
        r"\w+",
        "synthetic default standard usual whole entire same current this that these those our my the a new training "
        "reviewed corrected fixed cleaned clean relabelled relabeled imported original source old label_studio",
    )
)
# "on dataset lab_v3", "the dataset called cortex_2p": the name after the word, with a digit or an underscore (or
# quoted), as a bare name must have
_DATASET_THEN_NAME: Final = re.compile(
    r"\b(?:dataset|data\s*set)\s+(?:called\s+|named\s+)?(?:(?P<q>['\"`])(?P<quoted>[A-Za-z][\w.+-]*)(?P=q)"
    r"|(?P<w>(?![0-9a-f]{6,}\b)[A-Za-z][\w.+-]*?(?:_|\d)[\w.+-]*?)(?![\w.+/:-]|'s))",
    _I,
)


def dataset_name(clause: str) -> str | None:
    """The name of a dataset the clause names (not a folder path: `slots.directory` finds those), or None."""
    for pattern in (_NAMED_DATASET, _BARE_DATASET, _DATASET_THEN_NAME):
        found = pattern.search(clause)
        word = (found.group("w") or found.groupdict().get("quoted")) if found else None
        if word and names_a_dataset(word):
            return str(word)
    return None


def names_a_dataset(word: str) -> bool:
    """A word in a dataset's place is its name unless it is a common word, a model family, a metric ("on hd95"), a
    loss ("for dice_ce") or an argument name ("top_k")."""
    lowered = word.lower()
    return not (
        lowered in _KNOWN_DATASET_WORDS
        or lowered in keyvalue.CHOICES[("train_model", "loss")]
        or families_in(word)
        or metrics_in(word, include_loss=True)
        or lowered in _ARGUMENT_NAMES
        or lowered.split(".", 1)[0] in _CONFIG_SECTIONS  # "with trainer.batch_size": a config key
    )


_ARGUMENT_NAMES: Final = frozenset(name for names, _ in keyvalue.TOOL_ARGS.values() for name in names)
_CONFIG_SECTIONS: Final = frozenset({"model", "trainer", "optim", "loss", "data", "tracking", "inference"})
