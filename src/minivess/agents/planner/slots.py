"""Argument extractors: each reads one value (epochs, lr, patch size, paths …) out of a clause, or None."""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner.lexicon import NUM, families_in, parse_int, parse_number

_FLAGS: Final = re.I
_FLOAT: Final = r"(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|\.\d+)"
_SEP: Final = r"\s*[x×*,]\s*|\s+"

_EPOCHS = re.compile(rf"\b({NUM})\s*-?\s*(?:single\s+|full\s+|more\s+)?(?:epochs?|eps?)\b", _FLAGS)
_EPOCHS_AFTER = re.compile(
    r"\bepochs?\s*(?:=|:|of|to|set\s+to|\s)\s*(\d+)\b(?!\s*(?:[x×*]|times\b|runs?\b|%|epochs?\b))", _FLAGS
)
# "seed 123 epochs 4": a number right after another option's keyword is that option's, not an epoch count.
_OTHER_KEYWORD_BEFORE = re.compile(
    r"\b(?:seed|lr|learning[\s-]+rate|batch(?:[\s_-]*size)?|bs|patch(?:[\s_-]*size)?|top|limit|n)\s*[=:]?\s*$", _FLAGS
)
_LR = re.compile(
    rf"\b(?:lr|learning[\s-]+rate)\s*(?:of|=|:|to|at|is|set\s+to)?\s*(?:~|about|around|roughly)?\s*({_FLOAT})(?![\w.])",
    _FLAGS,
)
_LR_BEFORE = re.compile(rf"(?<![\w.])({_FLOAT})\s+(?:lr|learning[\s-]+rate)\b", _FLAGS)
_LR_POW = re.compile(
    r"\b(?:lr|learning[\s-]+rate)\b[^\d]{0,12}(?:(\d+(?:\.\d+)?)\s*[x×*]\s*)?10\s*\^\s*(-?\d+)", _FLAGS
)
_PATCH = re.compile(
    rf"\b(?:patch|crop)(?:es)?(?:[\s_-]*sizes?)?\s*(?:of|=|:|to)?\s*[\[(]?\s*(\d+)(?:{_SEP})(\d+)(?:{_SEP})(\d+)",
    _FLAGS,
)
_TRIPLE = re.compile(r"\b(\d+)\s*[x×*]\s*(\d+)\s*[x×*]\s*(\d+)\b", _FLAGS)
CUBE: Final = re.compile(
    r"\b(\d+)\s*(?:\^\s*3|³|[\s-]?cubed\b)", _FLAGS
)  # "64^3", "64³", "64-cubed" (not "12 cube volumes")
_BATCH = re.compile(rf"(?<![/\\.~])\b(?:batch(?:[\s_-]*size)?|bs)\s*(?:of|=|:|to)?\s*({NUM})\b(?![/\w-]|\.\w)", _FLAGS)
_BATCH_BEFORE = re.compile(rf"\b({NUM})\s+(?:volumes?\s+|samples?\s+)?(?:per|a|each)\s+(?:batch|step)\b", _FLAGS)
_BUDGET = re.compile(
    rf"\b({NUM})\s*-?\s*(minutes?|mins?|hours?|hrs?|seconds?|secs?|days?|weeks?|h|m|s)\b(?!\s*(?:ago|old))", _FLAGS
)
_SEED = re.compile(r"\b(?:random\s+)?seed\s*(?:=|:|of|is|to|set\s+to)?\s*(-?\d+)\b", _FLAGS)
_SEED_BEFORE = re.compile(r"\b(\d+)\s+as\s+(?:the\s+)?seed\b", _FLAGS)
# "gpu1", "cuda:0", "gpu #2", "gpu number 1", "gpu 2"; not where the number belongs to what follows ("gpu 2 hours"
# is a budget on the GPU, "gpu 4 per batch" a batch size), never inside a path or a name ("data/gpu2/", "gpu1-model").
_DEVICE_INDEX = re.compile(
    r"(?<![\w/.-])(?:gpu|cuda)(?:\s*[:#]\s*|\s*no\.?\s*|\s+number\s+|\s+)?(\d+)(?![\w/.-])"
    r"(?!\s*(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s|days?|epochs?|volumes?|per|batch\w*|samples?|trials?"
    r"|folds?|gpus|slices?|rows?|runs?|x|%)\b|\s*%)",
    _FLAGS,
)
_NEGATED: Final = re.compile(
    r"\b(?:don'?t|do\s+not|never|without|not|no)\s+(?:use\s+|using\s+|on\s+)?(?:the\s+)?$", _FLAGS
)  # before a GPU index: "don't use gpu0" rules it out
_DEVICE = re.compile(
    r"(?<![\w/.-])(?:on|using|use|with|via)\s+(?:the\s+|a\s+|my\s+|our\s+|one\s+|device\s+)?(?:nvidia\s+)?"
    r"(gpu|cuda|cpu|mps)(?![\w/.-])(?!\s+(?:runs?|graphs?|time|budget|hours?|minutes?|usage|load|cores?)\b)"
    r"|(?<![\w/.-])(cpu)[\s-]only\b",
    _FLAGS,
)
# "don't use the gpu", "without a GPU": the CPU
_NO_GPU = re.compile(
    r"\b(?:don'?t|do\s+not|never|without)\s+(?:use\s+|using\s+)?(?:the\s+|a\s+|any\s+)?(?:gpu|cuda)s?\b"
    r"(?!\s*[:#]?\s*\d)",  # "don't use gpu0" rules out one GPU, not all of them
    _FLAGS,
)
_MPS = re.compile(r"\bapple[\s-]*(?:silicon|gpu|m[1-4])\b|\bmps\b|\bmacbook(?:'s)?\s+gpu\b", _FLAGS)
_NII = re.compile(r"""(?<![\w/.~-])['"`]?((?:/|~/|\.{1,2}/)?(?:[\w.~-]+/)*[\w.-]+\.nii(?:\.gz)?)\b['"`]?""", _FLAGS)
_DIR = re.compile(r"""(?<![\w/.~-])['"`]?((?:~|\.{1,2})?/?(?:[\w.-]+/)+[\w.-]*)['"`]?""", _FLAGS)
_REGISTER_AS = re.compile(
    r"\b(?:register(?:ed)?|save|saved|publish)\s+(?:it|this|that|the\s+(?:best\s+)?(?:model|checkpoint|ckpt|weights|result|run))?"
    r"\s*(?:as|under(?:\s+the\s+name)?|with\s+the\s+name)\s+['\"`]?([A-Za-z0-9][\w.-]*)",
    _FLAGS,
)
_MODEL_NAME = re.compile(
    r"(?:\b(?:model[\s_-]?name|registered\s+model|under(?:\s+the\s+name)?|named|called|as|for\s+model)"
    r"|\b(?:champion|challenger)\s+(?:of|for|in)(?:\s+the)?(?:\s+registered)?)\s+(?:model\s+)?['\"`]?([A-Za-z0-9][\w.-]*)",
    _FLAGS,
)
_NOT_PATH_PARTS: Final = frozenset(
    {"and", "or", "w", "i", "o", "n", "a", "either", "dice", "cldice", "ce", "val", "test"}
)
_NOT_NAMES: Final = frozenset({"champion", "challenger", "the", "a", "an", "it", "model", "our", "my", "well"})
_TOP = re.compile(
    rf"\b(?:top|first|best)\s+({NUM})\b(?!\s*(?:epochs?|%))|\b({NUM})\s+(?:best|top|highest[\s-]scoring|rows|entries)\b",
    _FLAGS,
)
_SYNTH_N_NEXT = re.compile(
    rf"\b({NUM})\s+(?:(?:synthetic|new|more|small|tiny|noisy|shifted|fresh|extra|test|training)\s+)?"
    r"(?:volumes?|images?|samples?|stacks?|cases?|scans?|cubes?)\b",
    _FLAGS,
)
_SYNTH_N = re.compile(
    rf"\b({NUM})\s+(?:[\w-]+\s+){{0,3}}?(?:volumes?|images?|samples?|stacks?|cases?|scans?|cubes?)\b", _FLAGS
)
_SYNTH_N_OF = re.compile(rf"\bn\s+(?:of|is|at)\s+({NUM}|zero)\b", _FLAGS)
_DATASET_NAME = re.compile(
    r"\b(?:call(?:ed)?|name(?:d)?|save\s+(?:it\s+)?as|(?:dataset|folder)\s+name)(?:\s*:)?\s+(?:it\s+|the\s+(?:new\s+)?(?:dataset|data|folder)\s+|them\s+)?"
    # a quoted name whole, spaces and all ("'my data/v1'"); unquoted, a folder-like word right after it belongs to
    # it ("called my data/set": a name the schema refuses, asked about, not "my")
    r"(?:(['\"`])([^'\"`]+)\1|([A-Za-z0-9_.-]+(?:/[\w./-]*|\s+[\w.-]*/[\w./-]*)?))"
    r"|\bas\s+(['\"`])(?P<as_name>[^'\"`]+)\4"  # "30 volumes as 'warmup30'": quoted (else "as" is common)
    # or a name with a digit or _ right after a data noun ("8 volumes as quick8"; not "as float16", "same as batch_2")
    r"|\b(?:volumes?|stacks?|data(?:set)?|set|preset|them|it)\s+as\s+"
    r"(?P<as_bare>(?!(?:u?int|float|fp|bf)\d+\b)(?=[\w.-]*[_\d])[A-Za-z][\w.-]*[A-Za-z0-9])(?![\w.-])",
    _FLAGS,
)


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last match: when an answer is appended to a question's request, the later value wins."""
    found = None
    for found in pattern.finditer(text):  # noqa: B007 - the loop keeps the last one
        pass
    return found


def epochs(text: str) -> int | None:
    """Epoch count ("20 epochs", "twenty epochs", "for 5 ep", "one epoch", "epochs=3"); the last whole one wins.

    "lr=0.0005 epochs=8" has "0.0005 epochs" too: a fraction is not an epoch count, so "epochs=8" is used.
    """
    before = [m for m in _EPOCHS.finditer(text) if not _OTHER_KEYWORD_BEFORE.search(text[: m.start()])]
    found = sorted([*before, *_EPOCHS_AFTER.finditer(text)], key=lambda m: m.start())
    values = [value for value in (parse_int(m.group(1)) for m in found) if value is not None]
    return values[-1] if values else None


def learning_rate(text: str) -> float | None:
    """Learning rate ("lr 1e-3", "learning rate of 0.0005", "lr=3e-4", "a 1e-4 learning rate", "lr 10^-3")."""
    power = _last(_LR_POW, text)
    if power:
        return float(power.group(1) or 1.0) * 10.0 ** int(power.group(2))
    match = _last(_LR, text) or _last(_LR_BEFORE, text)
    return parse_number(match.group(1)) if match else None


def loss(text: str) -> str | None:
    """Loss name: clDice/topology → dice_ce_cldice; "dice+ce", "without clDice" → dice_ce."""
    lowered = text.lower()
    if re.search(r"\b(?:without|no|not|non)[\s-]+(?:the\s+)?(?:cl[\s_-]?dice|topolog)", lowered) or re.search(
        r"\bplain\s+dice", lowered
    ):
        return "dice_ce"
    if re.search(r"cl[\s_-]?dice|topolog", lowered):
        return "dice_ce_cldice"
    if re.search(r"\bdice\s*(?:\+|_|-|and|with)?\s*(?:ce|cross[\s-]?entropy)\b", lowered):
        return "dice_ce"
    return None


def triple(text: str) -> list[int] | None:
    """Any X×Y×Z size ("64x64x32", "64 × 64 × 32", "64*64*32"), or a cube ("64^3")."""
    match = _last(_TRIPLE, text)
    if match:
        return [int(match.group(i)) for i in (1, 2, 3)]
    cube = _last(CUBE, text)
    return [int(cube.group(1))] * 3 if cube else None


_SPACED_SIZE = re.compile(
    r"\b(?:size|shape|dims?|dimensions?|of|at|voxels?)\s*(?:of\s+|=\s*|:\s*)?[\[(]?\s*(\d+)(?:\s*,\s*|\s+)(\d+)"
    r"(?:\s*,\s*|\s+)(\d+)\b(?!\s*(?:epochs?|volumes?|images?|samples?|minutes?|hours?))",
    _FLAGS,
)


def volume_shape(text: str) -> list[int] | None:
    """Volume size for synthesis: "64x64x32", "64^3", or spaced after a size word ("of size 96 96 24")."""
    found = triple(text)
    if found:
        return found
    match = _last(_SPACED_SIZE, text)
    return [int(match.group(i)) for i in (1, 2, 3)] if match else None


def without_sizes(text: str) -> str:
    """The text with its X×Y×Z sizes blanked, so their numbers are not read as counts."""
    text = _TRIPLE.sub(" ", text)
    return _SPACED_SIZE.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)], text)


def patch_size(text: str) -> list[int] | None:
    """Training crop size ("patch 64x64x32", "patch size 96 96 32", "64×64×32 patches")."""
    match = _last(_PATCH, text)
    if match:
        return [int(match.group(i)) for i in (1, 2, 3)]
    return triple(text)


def batch_size(text: str) -> int | None:
    """Batch size ("batch size 4", "bs=2", "2 volumes per batch")."""
    match = _last(_BATCH, text) or _last(_BATCH_BEFORE, text)
    return parse_int(match.group(1)) if match else None


def budget_minutes(text: str) -> float | None:
    """Wall-clock budget in minutes ("for 10 minutes", "within 2 hours", "at most 30 min", "half an hour")."""
    match = _last(_BUDGET, text)
    if not match:
        return None
    value = parse_number(match.group(1))
    if value is None:
        return None
    unit = match.group(2).lower()
    if unit.startswith("d"):
        return value * 1440.0
    if unit.startswith("w"):
        return value * 10080.0
    if unit.startswith("h"):
        return value * 60.0
    if unit.startswith("s"):
        return value / 60.0
    return value


def device(text: str) -> str | None:
    """Training device ("on gpu1", "on the GPU", "cuda:0", "cpu only"): cuda:N, cuda, cpu or mps."""
    found = device_written(text)
    return found[0] if found else None


def device_written(text: str) -> tuple[str, tuple[int, int]] | None:
    """The device a text names and where it is written, or None."""
    indices = [m for m in _DEVICE_INDEX.finditer(text) if not _NEGATED.search(text[max(0, m.start() - 24) : m.start()])]
    if indices:  # "on gpu1, don't use gpu0": the GPU asked for, not the one ruled out
        return f"cuda:{int(indices[-1].group(1))}", indices[-1].span()
    if match := _last(_NO_GPU, text):
        return "cpu", match.span()
    if match := _last(_MPS, text):
        return "mps", match.span()
    if match := _last(_DEVICE, text):
        word = (match.group(1) or match.group(2)).lower()
        return ("cpu" if word == "cpu" else "mps" if word == "mps" else "cuda"), match.span()
    return None


def seed(text: str) -> int | None:
    """Seed ("seed 3", "with seed=42", "42 as the seed")."""
    match = _last(_SEED, text) or _last(_SEED_BEFORE, text)
    return int(match.group(1)) if match else None


def nii_paths(text: str) -> tuple[str | None, str | None]:
    """(input, output) NIfTI paths: the first one is the input, a second one the output."""
    found = [match.group(1) for match in _NII.finditer(text)]
    return (found[0] if found else None), (found[1] if len(found) > 1 else None)


_OUTPUT_CUE = re.compile(
    r"\b(?:to|into|as|output|out|save\w*|writ\w*|store\w*)\s*(?:path\s*)?[:=]?\s*['\"`]?$|->\s*$"
    r"|\b(?:save\w*|writ\w*|stor\w*|put|place|keep)\s+(?:it|them|that|the\s+\w+)\s+(?:at|in|under)\s*['\"`]?$",
    _FLAGS,
)


# "save it to out/mask.nii.gz" names the output even before any input is named
_STRONG_OUTPUT_CUE = re.compile(
    r"\b(?:save\w*|writ\w*|stor\w*|put|place|output)\s+(?:(?:it|them|that|the\s+\w+)\s+)?(?:to|into|as|at|in|under)\s*"
    r"(?:path\s*)?[:=]?\s*['\"`]?$|\boutput(?:\s+path)?\s*[:=]\s*['\"`]?$",
    _FLAGS,
)


def nii_inputs_and_output(text: str) -> tuple[list[str], str | None]:
    """Input volumes and the output path: a path after "to/into/as/save …" is the output, the others are inputs."""
    inputs: list[str] = []
    output: str | None = None
    for match in _NII.finditer(text):
        before = text[max(0, match.start() - 24) : match.start()]
        if output is None and ((inputs and _OUTPUT_CUE.search(before[-16:])) or _STRONG_OUTPUT_CUE.search(before)):
            output = match.group(1)
        else:
            inputs.append(match.group(1))
    return inputs, output


def directory(text: str) -> str | None:
    """The first path-like token that is not a NIfTI file ("data/minivess", "./data/x", "~/vols/")."""
    found = directories(text)
    return found[0][0] if found else None


def directories(text: str) -> list[tuple[str, int]]:
    """Every path-like token that is not a NIfTI file, with where it starts, in order."""
    found = []
    for match in _DIR.finditer(text):
        candidate = match.group(1)
        parts = {p.lower() for p in candidate.split("/") if p}
        if re.search(r"\.nii(?:\.gz)?$", candidate, re.I) or re.fullmatch(r"[\d./]+", candidate):
            continue
        if parts and parts <= _NOT_PATH_PARTS:
            continue
        if path := candidate.rstrip(".,;"):
            found.append((path, match.start(1)))
    return found


def input_folder(text: str) -> str | None:
    """The first folder named as an input ("predict on data/raw"): not an output ("save it to out/"), not a pair
    of model families ("segresnet/swinunetr")."""
    for path, start in directories(text):
        before = text[max(0, start - 24) : start]
        if _STRONG_OUTPUT_CUE.search(before) or _OUTPUT_CUE.search(before[-16:]):
            continue
        if all(families_in(part) for part in path.split("/") if part):
            continue
        return path
    return None


def split(text: str) -> str:
    """Data split: val for "val"/"validation", train for "training set", else test."""
    lowered = text.lower()
    if re.search(r"\bval(?:idation|id)?\b", lowered):
        return "val"
    if re.search(r"\btrain(?:ing)?\s+(?:set|split|data|volumes)\b|\bon\s+(?:the\s+)?train(?:ing)?\b", lowered):
        return "train"
    return "test"


def register_as(text: str) -> str | None:
    """Model-registry name from "register it as X" / "save it as X"."""
    match = _last(_REGISTER_AS, text)
    return match.group(1).rstrip(".,;") if match else None


def model_name(text: str) -> str | None:
    """Registered model name for promote ("as vessel-seg", "under the name X"); never champion/challenger."""
    for match in _MODEL_NAME.finditer(text):
        name = match.group(1).rstrip(".,;")
        if name.lower() not in _NOT_NAMES:
            return name
    return None


# "promote X to champion", "make the challenger champion"
_TARGET_ALIAS = re.compile(
    r"\b(?:(?:to|as|into|becomes?|is\s+now)\s+(?:the\s+|our\s+)?|(?:make|set|crown|name)\s+(?:the\s+)?(?:champion|challenger|run\s+\S+|\S+)\s+"
    r"(?:the\s+)?)(?:new\s+)?(champion|challenger)\b",
    _FLAGS,
)


def alias(text: str) -> str:
    """Registry alias: the one after "to"/"as" ("promote the challenger to champion"), else challenger when named,
    else champion."""
    target = _last(_TARGET_ALIAS, text)
    if target:
        return target.group(1).lower()
    return "challenger" if re.search(r"\bchallenger\b", text, re.I) else "champion"


def target_alias_span(text: str) -> tuple[int, int] | None:
    """Where the target alias ("to champion") is written, if it is."""
    target = _last(_TARGET_ALIAS, text)
    return target.span(1) if target else None


def top_n(text: str) -> int | None:
    """Row limit from "top 5", "first ten", "5 best"."""
    match = _last(_TOP, text)
    return parse_int(match.group(1) or match.group(2)) if match else None


_ROW_CAP = re.compile(
    rf"\b(?:up\s+to|at\s+most|max(?:imum)?(?:\s+of)?|no\s+more\s+than|(?:cap|limit)(?:ped|ed)?\s+(?:it\s+)?(?:at|to))\s+"
    rf"({NUM})\s+rows\b|\bmax_rows\s*(?:[=:]|\s+of)?\s*({NUM})(?![\w.])",
    _FLAGS,
)


def row_cap(text: str) -> int | None:
    """A query's row cap ("up to 500 rows", "at most 50 rows")."""
    match = _last(_ROW_CAP, text)
    return parse_int(match.group(1) or match.group(2)) if match else None


def volume_count(text: str) -> int | None:
    """Number of volumes to synthesise ("8 synthetic volumes", "twenty images")."""
    match = _last(_SYNTH_N_NEXT, text) or _last(_SYNTH_N, text)  # "a dataset of twenty-four volumes": 24, not "a"
    match = match or _last(_SYNTH_N_OF, text)  # "synthetic set please, with an n of zero"
    return parse_int(match.group(1)) if match else None


def dataset_name(text: str) -> str | None:
    """Dataset folder name for synthesis ("called shifted-v2", "name it noisy")."""
    match = _last(_DATASET_NAME, text)
    if match is None:
        return None
    if match.group("as_name") or match.group("as_bare"):
        return (match.group("as_name") or match.group("as_bare")).strip()
    return match.group(2).strip() if match.group(2) else match.group(3).rstrip(".,;")


# "the reviewed dataset", "the corrected data", "the new dataset version": the version import_reviews made.
REVIEWED_DATASET: Final = re.compile(
    r"\b(?:the\s+|our\s+|that\s+|this\s+)?(?:(?:newly\s+)?(?:reviewed|corrected|fixed|cleaned|clean|relabell?ed"
    r"|imported)\s+(?:dataset|data(?:\s*set)?|set|version|labels|masks|volumes)(?:\s+version)?"
    r"|new\s+dataset\s+version|new\s+version\s+of\s+the\s+(?:dataset|data))\b",
    _FLAGS,
)


def reviewed_dataset(text: str) -> re.Match[str] | None:
    """Where ``text`` names the dataset version made from imported reviews, if it does."""
    return REVIEWED_DATASET.search(text)
