"""Normalising a request and splitting it into clauses ("X, then Y", "X and show Y", "X. After that Y")."""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Final

from minivess.agents.planner.cliline import rewrite_command_line
from minivess.agents.planner.lexicon import NUMBER_WORDS
from minivess.agents.planner.rewrite import rewrite

_ACTIONS: Final = (
    r"(?:train|retrain|evaluate|eval|test|compare|show|plot|draw|chart|graph|promote|make|segment|predict|generate"
    r"|synthesi[sz]e|create|describe|list|tell|give|report|summari[sz]e|rank|check|find|get|display|print|inspect"
    r"|run\s+inference|infer|what|which|how|why|fetch|look|visuali[sz]e|calibrate|ensemble|soup|queue|import"
    r"|send|gate)\b"
)
# "then", "after that", ";" and sentence ends always separate; "and" / "," only before an action word.
_STRONG: Final = re.compile(
    r"\s*;\s*|(?<=[^.][.!?])(?<!\bvs\.)(?<!\bcf\.)(?<!\be\.g\.)(?<!\bi\.e\.)\s+(?=[A-Za-z])"  # not after "vs."
    r"|,?\s*\b(?:and\s+then|then|after\s+that|afterwards|after\s+which|followed\s+by|finally|and\s+finally"
    r"|(?:once|when)\s+(?:that(?:'s|\s+is)?\s+|it(?:'s|\s+is)?\s+)?(?:done|finished|complete)"
    r"|(?:once|when)\s+(?:that|it|this)\s+(?:finishes|completes|ends|is\s+over))\b,?\s*"
    r"|\s*(?<![\w.(])\d{1,2}\)\s+"  # "1) dataset info for F 2) train dynunet on it": numbered steps
    # "segresnet 20 epochs -> test-set evaluation -> register it as challenger"; not "last run -> ~/tmp/a.nii.gz"
    r"|\s+(?:->|=>|→)\s+(?!\S*[/\\]|\S+\.nii)",
    re.I,
)
# A verb of its own on "it"/"them" ("zap it"): not an option of the step before ("give it 1.5h", "call it v8",
# "weight them by val dice"), an auxiliary ("does it pass?") or a repeat ("run it again")
VERB_ON_IT: Final = (
    r"(?!(?:give|call|name|save|store|write|export|dump|place|make|put|keep|cap|limit|set|use|let|weight|average"
    r"|vote|run|try|repeat|redo|sort|order|rank|group|filter|limit|does|did|do|is|was|are|were|can|could|will|would"
    r"|should|has|have|had|with|on|for|to"
    r"|of|in|at|and|also|now|then|what|how|same|again)\s)[a-z]{3,}\s+(?:it|them)\b"
)
_WEAK: Final = re.compile(
    r"\s*,\s*(?:and\s+)?(?:also\s+)?(?=(?:please\s+)?" + _ACTIONS + r")"
    r"|\s+and\s+(?:also\s+)?(?=(?:please\s+)?" + _ACTIONS + r")"
    r"|\s+(?:also|plus)\s+(?=(?:please\s+)?" + _ACTIONS + r")"
    r"|,?\s+and\s+(?=again\b)|,?\s+and\s+also\s+(?=the\b)|,?\s+and\s+(?=(?:another|a\s+second)\s+(?:one\s+)?(?:for|with|at|on)\b)"
    r"|,?\s+and\s+(?=run\s+(?:the|a|an)\s+(?:[\w-]+\s+){0,2}(?:gate|check|search|query|evaluation|inference)\b)"
    # "soup the last run and put the resulting soup through the weight gate"
    r"|,?\s+and\s+(?=(?:put|pass|push|feed|send|run)\s+(?:[\w-]+\s+){0,4}?(?:through|past)\s+(?:the\s+)?(?:weight\s+)?gate\b)"
    r"|,?\s+and\s+(?=(?:write|draft)\s+(?:its|the|a|their)\s+(?:model\s+)?cards?\b)"
    r"|,?\s+and\s+(?=the\s+(?:effect|impact|influence)\s+of\b)"
    r"|,?\s+and\s+(?=of\s+\S+\s+on\b)"  # "effect of loss.name on val_cldice and of optim.lr on val_dice"
    r"|,?\s+and\s+(?=(?:its|their)\s+(?:\w+\s+)?(?:curves|card|details|scores|weights)\b)"  # "… and its curves"
    # "…, and did the loss choice matter?"
    r"|,?\s+and\s+(?=(?:did|does|do|has|have)\s+(?:the|our|my|a|an|it|its|this|that|they)\b)"
    # "calibrate the last run, frobnicate it, and …": a verb on "it" after a comma is a step of its own, so one the
    # planner does not know is asked about, never dropped
    rf"|\s*,\s*(?:and\s+)?(?={VERB_ON_IT})",
    re.I,
)
_FILLER_WORDS: Final = (
    r"(?:thanks?(?:\s+you)?|thank\s+you|please|pls|ok(?:ay)?|great|good|cool|nice|perfect|awesome|sure|yes|yep|yeah"
    r"|(?:thanks|thank\s+you)\s+(?:(?:so|very)\s+much|a\s+(?:lot|bunch|ton)|again|in\s+advance|mate|buddy)|thx|ty"
    r"|cheers|many\s+thanks|(?:(?:very\s+)?much\s+)?appreciated|you(?:'re|\s+are)\s+(?:great|awesome|amazing|the\s+best|a\s+(?:star|legend|lifesaver))"
    r"|you\s+rock|(?:great|good|nice)\s+job|legend"
    r"|across\s+everything\s+(?:(?:we|i)(?:'ve|\s+have)\s+(?:run|trained|done)(?:\s+so\s+far)?|so\s+far)"
    r"|go\s+ahead|do\s+(?:it|that|this)|hi|hello|hey|and|also|so|now|first(?:ly)?|then|summari[sz]e|summari[sz]e\s+it"
    r"|(?:good\s+)?(?:morning|afternoon|evening)|lgtm"
    r"|(?:(?:that|it|this)\s+)?(?:looks|sounds|seems)\s+(?:good|great|fine|right|solid|promising|reasonable|better|ok(?:ay)?)"
    r"|(?:that|this|it)(?:'s|\s+is)\s+(?:great|good|nice|perfect|excellent|awesome|fine|promising|impressive|better)"
    r"|(?:it\s+)?pass(?:es|ed)|solid|excellent|good\s+enough|fair\s+enough|works\s+for\s+me"
    r"|(?:all\s+)?good|nice\s+(?:work|one)|well\s+done|never\s*mind|ugh|argh|hmm+|oops|meh|sigh|damn|right|alright"
    r"|(?:list|show)\s+(?:me\s+)?(?:them|those|these)(?:\s+all)?"
    r"|(?:make|create)\s+(?:a\s+)?new\s+(?:dataset\s+)?version(?:\s+(?:from|of|with)\s+(?:them|it|those|these))?"
    r"|tell\s+me\s+(?:which|what)\s+(?:one\s+)?(?:is|was|did)\s+better|which\s+(?:one\s+)?(?:is|was)\s+better"
    r"|(?:and\s+)?what\s+(?:they|each|it)\s+means?|(?:stats|numbers|a\s+breakdown)\s+per\s+(?:value|group)|let\s+me\s+know|report\s+back|show\s+(?:me\s+)?(?:the\s+)?results?|tell\s+me\s+the\s+results?"
    r"|report\s+(?:the\s+|its\s+)?(?:dice|cl[\s-]?dice|scores?|metrics|results?|numbers))"
)
# One or more courtesy words ("good, go ahead", "ok thanks"): a clause that asks for nothing.
_FILLER: Final = re.compile(rf"^(?:{_FILLER_WORDS}(?:[\s.!?,]+|$))+$", re.I)  # whole words: "tyty" is no filler
_POLITE: Final = re.compile(
    r"^(?:(?:hey|hi|hello|ok(?:ay)?|so|now|alright|please|pls|kindly|first(?:ly)?|also)\s*[,!]?\s+"
    r"|(?:cool|great|nice|good|perfect|excellent|thanks|awesome)\s*(?:[,!:]|\s-)\s*"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?|i\s+(?:want|would\s+like|'d\s+like|need)\s+(?:you\s+)?to\s+"
    r"|i\s*'d\s+(?:like|love)\s+(?:you\s+)?to\s+(?:know|see|find\s+out|learn|check)\s+|i\s*'d\s+(?:like|love)\s+(?:you\s+)?to\s+"
    r"|i\s*'d\s+(?:like|love)\s+|i\s+would\s+love\s+(?:to\s+)?"
    r"|i\s+want\s+|let'?s\s+|help\s+me\s+|just\s+"
    r"|[^.;!?]{0,100}?\bbut\s+never\s*mind\b[\s,.;:-]*)+",
    re.I,
)


@dataclass(frozen=True)
class Clause:
    """A piece of the request with its offsets in the normalised text (answers to questions are inserted there)."""

    text: str
    start: int
    end: int


@functools.lru_cache(maxsize=512)
def normalize(text: str) -> str:
    """Plain spacing and quotes, a command line as its tool call (`cliline`), common typos of the words that decide
    a request fixed, durations and sizes in the forms the extractors read (`rewrite`); case is kept. Remembered:
    each LLM hop of a turn plans the same request."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u00a0", " ").replace("\u2013", "-").replace("\u2014", " - ")
    text = rewrite_command_line(re.sub(r"\s+", " ", text).strip())  # "minivess search start -b 45 …"
    text = _ARROW_TO_PATH.sub(r"\1 to ", text)
    for pattern, full in _SHORT_FORMS:
        text = pattern.sub(full, text)
    return rewrite(_TYPO_WORD.sub(_fix_typo, text))


# Short forms people type for words that decide a request, read only beside the words they go with ("generate 20
# vols", "hows the hyperparam search"): a quoted name, a path or SQL that spells "vols" keeps it.
_SHORT_FORMS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (
        re.compile(rf"(?<![\w/.'\"`%-])(\d+|{NUMBER_WORDS})((?:\s+[\w-]+){{0,2}}?)\s+vols(?![\w/.'\"`%-])", re.I),
        r"\1\2 volumes",
    ),
    (
        re.compile(
            r"(?<![\w/.'\"`%-])(?:hyperparam|hparam|hp)(s?)(?=\s+(?:search|sweep|tuning|optimi[sz]ation)\b)", re.I
        ),
        r"hyperparameter\1",
    ),
    (re.compile(r"^(how|what)s(?=\s+(?:the|it|my|our|that|this)\b)", re.I), r"\1's"),
)


# "mask -> out/m.nii.gz": "mask to out/m.nii.gz"; an arrow between two folders ("data/old -> data/new") stays
_ARROW_TO_PATH: Final = re.compile(
    r"\b(mask|segmentation|output|uncertainty(?:\s+map)?|prediction|probabilit(?:y|ies)(?:\s+map)?)\s*(?:->|\u2192)\s*",
    re.I,
)

# Words that decide what a request is; a close misspelling of one ("evalute", "leaderbord") is read as it.
_VOCABULARY: Final = (
    "evaluate", "leaderboard", "compare", "synthesize", "synthesise", "generate", "promote", "predict", "segment",
    "champion", "challenger", "validation", "training", "segresnet", "swinunetr", "dynunet", "learning", "epochs",
    "warehouse", "schema", "failures", "curves", "dataset", "volumes", "register", "inference", "production",
    "calibrate", "calibration", "conformal", "ensemble", "weightwatcher", "suspicious", "mislabelled", "latest",
)  # fmt: skip
_TYPO_WORD: Final = re.compile(r"(?<![\w/.\\-])[a-z]{5,}(?![\w/.\\-])")


def _fix_typo(match: re.Match[str]) -> str:
    return _corrected(match.group(0))


@functools.lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    """The vocabulary word a close misspelling stands for, else the word (difflib is slow: remembered)."""
    if word in _VOCABULARY or any(word.startswith(known) or known.startswith(word) for known in _VOCABULARY):
        return word  # a known word or an inflection of one ("predicted", "compares")
    close = difflib.get_close_matches(word, _VOCABULARY, n=1, cutoff=0.85)
    return close[0] if close else word


def strip_polite(text: str) -> str:
    """Drop leading courtesy ("can you please", "I'd like to", "help me") so the verb leads."""
    return _POLITE.sub("", text).strip()


def is_filler(text: str) -> bool:
    """True for clauses that carry no request ("thanks", "and tell me which is better")."""
    return bool(_FILLER.match(text.strip()))


def _spans(text: str, pattern: re.Pattern[str], offset: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in pattern.finditer(text):
        if match.start() > start or match.end() > start:
            spans.append((offset + start, offset + match.start()))
            start = match.end()
    spans.append((offset + start, offset + len(text)))
    return spans


_LEADING: Final = re.compile(r"^(?:[\s,;]|-(?=\s)|\.(?![./]))+")  # not the "." of "./data/x" or "../x"


def _trim(piece: str) -> str:
    """A clause without the punctuation around it ("./data/x review: …" keeps its path)."""
    return _LEADING.sub("", piece).rstrip(" ,.;")


def split_clauses(text: str) -> list[Clause]:
    """Clauses in order; one-word fragments ("why", "test") stay with the clause before them."""
    pieces: list[tuple[int, int]] = []
    for start, end in _spans(text, _STRONG, 0):
        pieces.extend(_spans(text[start:end], _WEAK, start))
    spans: list[tuple[int, int]] = []
    for start, end in pieces:
        piece = _trim(text[start:end])
        if not piece:
            continue
        if spans and len(piece.split()) < 2 and not is_filler(piece):
            spans[-1] = (spans[-1][0], end)
            continue
        spans.append((start, end))
    clauses: list[Clause] = []
    for start, end in spans:
        raw = text[start:end]
        stripped = _trim(raw)
        clauses.append(Clause(stripped, start + raw.find(stripped), end))
    return clauses
