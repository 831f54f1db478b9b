"""Run references in a clause: ids, 'last', 'best[:family[:metric]]', pronouns ("that run", "it")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from minivess.agents.planner.lexicon import FAMILY_ALT, METRIC_ALT, NUM, families_in, first_metric, parse_int

RefKind = Literal[
    "id", "last", "previous", "best", "pronoun", "plural", "lastn", "family", "alias", "ordinal", "firstn", "label"
]


@dataclass(frozen=True)
class RunRef:
    """One reference to a run as the user wrote it; `value` is what the tools accept (or a count for lastn)."""

    kind: RefKind
    value: str
    start: int
    end: int = 0
    ranked: bool = False  # "the top one": the first row of the table just shown, when there is one


_FAM: Final = rf"(?:{FAMILY_ALT})s?"
_MET: Final = rf"(?:(?:val(?:idation)?|test)[\s_]*)?(?:{METRIC_ALT})"
_NOUN: Final = r"(?:model|run|one|checkpoint|result|performer|network)s?"
_BEST: Final = (
    r"(?:the\s+|our\s+|my\s+|current\s+)?(?:best|top|strongest|winning|leading|highest[\s-]+scoring)"
    r"(?:[\s-]+(?:performing|scoring))?\s+"
    rf"(?:(?P<bm0>{_MET})\s+)?"
    rf"(?:(?P<bf1>{_FAM})(?:\s+{_NOUN})?|{_NOUN}(?:\s+(?:of|for"
    rf"|from|among)\s+(?:the\s+|our\s+|all\s+)?(?P<bf2>{_FAM}))?)"
    r"(?:\s+(?:so\s+far|overall|yet))?"
    rf"(?:\s+(?:by|on|in\s+terms\s+of|according\s+to|for|w\.?r\.?t\.?"
    rf"|with\s+respect\s+to)\s+(?:the\s+)?(?P<bm>{_MET}))?"
)
_REF_RE: Final = re.compile(
    "|".join(
        (
            r"(?P<hex>\b[0-9a-f]{32}\b)",
            r"(?P<alias>\b(?:the\s+|our\s+|current\s+)*(?P<aw>champion|challenger|production|prod)(?:'s)?"
            r"(?:\s+(?:model|run|one|version))?\b)",
            r"(?P<colon>\bbest:(?P<cf>[a-z]*)(?::(?P<cm>[a-z_0-9]+))?)",
            rf"(?P<best>\b{_BEST})\b",
            rf"(?P<lastn>\b(?:the\s+)?(?:last|latest|most\s+recent|previous|recent|newest)\s+(?P<n>{NUM})\s+"
            r"(?:(?:training\s+)?runs|models|trainings|experiments|ones|jobs)\b)",
            r"(?P<last>\b(?:the\s+)?(?:last|latest|most\s+recent|newest"
            r"|previous|recent|final)\s+(?:trained\s+|finished\s+)?"
            r"(?:(?:training\s+)?run|model|one|training|experiment|checkpoint|job)\b"
            # "whatever I trained most recently", "the run I just finished"
            r"|\b(?:whatever|what|the\s+(?:run|model|one))\s+(?:i|we)\s+(?:just\s+)?(?:trained|ran|finished)"
            r"(?:\s+(?:most\s+recently|last))?\b(?!\s+(?:it\s+)?on\s*(?:[?.!,;]|$))"  # "what we trained on?": data
            # "whatever ran most recently", "the one that finished last"
            r"|\b(?:whatever|the\s+(?:run|model|one))\s+(?:that\s+)?(?:ran|trained|finished)\s+(?:most\s+recently|last)\b)",
            r"(?P<trial>\bthe\s+(?:best|winning|top)\s+(?:trial|config(?:uration)?|candidate)\b)",
            r"(?P<firstn>\b(?:the\s+)?(?:first|top)\s+(?P<fn>two|three|2|3)\b(?!\s*(?:epochs?|volumes?|%|rows?)))"
            r"(?:\s+(?:runs|ones|models))?",
            r"(?P<ordinal>\bthe\s+(?P<ord>first|second|third|1st|2nd|3rd)\s+(?:failed\s+|finished\s+)?"
            r"(?:run|one|model|training|experiment)\b"
            r"|\bthe\s+(?P<ord2>second|third|2nd|3rd)\b(?!\s+(?:time|epoch|split|set))"
            # "the first and the third of those": "first" beside another ordinal or "of those"
            r"|\bthe\s+(?P<ord3>first|1st)\b(?=\s*(?:,|and\b|or\b|of\s+(?:those|these|them)\b))"
            # "#2 becomes challenger", "how do first and second place differ?": rows of the table shown
            r"|(?<![\w#])\#(?P<ord4>[1-9])\b|\b(?:the\s+)?(?P<ord5>first|second|third|1st|2nd|3rd)(?=(?:\s+and\s+\w+)?\s+place\b)"
            # "the 2nd and 3rd": a bare ordinal right after another one
            r"|(?<=\b(?:1st|2nd|3rd) and )(?P<ord6>2nd|3rd)\b"
            r"|(?:(?<=\bfirst and )|(?<=\bsecond and ))(?P<ord7>second|third)\b"
            r"|\b(?:number|no\.?)\s+(?P<ord8>one|two|three|four|five|six|seven|eight|nine|ten|[1-9])\b(?!\s*(?:epochs?|rows?|%)))",
            r"(?P<lastbare>\b(?:the\s+)?(?:last|latest|newest)\b(?=\s*(?:[?.!,;]|$|\s+(?:and|or|with|vs\.?|versus|against"
            r"|on|to|run)\b)))",
            rf"(?P<bestwhich>\b(?:whichever|the|our)\s+(?:(?P<bwf>{_FAM})(?:\s+{_NOUN})?|{_NOUN})\s+(?:(?:that|which)\s+)?"
            r"(?:(?:scores?|scored|performs?|performed|does|did|is|was)\s+(?:the\s+)?(?:best|highest)"
            rf"(?:\s+(?:on|by|in|for)\s+(?:the\s+)?(?P<bwm>{_MET}))?|with\s+the\s+(?:best|highest)\s+(?P<bhm>{_MET})))",
            r"(?P<bestbare>\b(?:the\s+|our\s+)?best\b(?=\s*(?:[?.!,`'\"]|$|\s+(?:and|or|vs\.?|so\s+far|overall)\b)))",
            r"(?P<plural>\bthem\b|\btheir\b|\b(?:these|those|the)\s+two\b|\bboth(?:\s+(?:of\s+them|runs"
            r"|models))?\b(?!\s+(?:the\s+|our\s+)?(?:champion|challenger|prod|production|last|latest|best|[0-9a-f]{6}))|\b(?:these|those|the)\s+(?:two\s+|new\s+)*"
            r"(?:runs|models|ones)\b|\ball\s+of\s+them\b|\beach\s+other\b"
            r"|\ball\s+(?P<pn>two|three|four|five|[2-9])\s+of\s+(?:them|those|these)\b|\b(?:those|these)\s+(?P<pn2>three|four|five)\b)",
            r"(?P<pron>\b(?:that|this|the|said|same)\s+(?:same\s+)?(?:new\s+|trained\s+|fresh\s+)?"
            r"(?:run|model|one|checkpoint|experiment)\b(?!\s+(?:famil|of\s+the\b|in\s+(?:first|second|third|1st|2nd|3rd)\s+place))|\bit\b|\bits\b|\bjust[\s-]+trained\b"
            r"|\b(?:that|this)(?=\s+(?:with|to|against|on|vs\.?|versus|and|in)\b|\s*[?.!,]|\s*$))",
            r"(?P<prefix>\b(?:run|id)\s+(?:id\s+)?(?P<px>(?=[0-9a-f]*\d)[0-9a-f]{4,31})(?:…|\.\.\.)?(?![\w/-]|\.\w))",
            r"(?P<bare>(?<![\w./-])(?P<bx>(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,31})(?:…|\.\.\.)?"
            r"(?![\w/-]|\.\w))",
            # "the OOM one", "the NaN-loss run", "the segresnet one": a run shown earlier, by what it was shown with
            r"(?P<label>\bthe\s+(?P<lw>(?!(?:same|new|other|next|only|whole|fresh|trained|finished|this|that|my|our)\b)"
            r"[A-Za-z][\w-]*)\s+(?:one|run|row)\b)",
            rf"(?P<fam>\b{_FAM}\b)",
        )
    ),
    re.I,
)


_TOP_ONE: Final = re.compile(r"(?:the\s+)?top\s+(?:one|run|model|entry|row)\b", re.I)
_ORDINALS: Final = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2}
_OBJECT_IT: Final = re.compile(r"\b(?:save|saved|write|store|name|call|put|export)\s+$", re.I)


def _family(text: str | None) -> str:
    found = families_in(text or "")
    return found[0][2] if found else ""


def _best_value(family: str, metric: str | None) -> str:
    if metric and (family or metric != "val_dice"):  # "the run with the best val dice": plain "best"
        return f"best:{family}:{metric}"
    return f"best:{family}" if family else "best"


def _from_match(match: re.Match[str]) -> RunRef:
    start = match.start()
    if match.group("hex"):
        return RunRef("id", match.group("hex").lower(), start)
    if match.group("alias"):
        return RunRef("alias", "challenger" if match.group("aw").lower() == "challenger" else "champion", start)
    if match.group("colon"):
        return RunRef("best", match.group("colon").lower().rstrip(":"), start)
    if match.group("best"):
        family = _family(match.group("bf1") or match.group("bf2"))
        metric_text = match.group("bm") or match.group("bm0")
        value = _best_value(family, first_metric(metric_text) if metric_text else None)
        return RunRef("best", value, start, ranked=value == "best" and bool(_TOP_ONE.match(match.group("best"))))
    if match.group("lastn"):
        count = parse_int(match.group("n")) or 1
        return RunRef("lastn", str(count), start) if count > 1 else RunRef("last", "last", start)
    if match.group("last"):
        if "previous" in match.group("last").lower():  # "compare it with the previous run": the one before it
            return RunRef("previous", "previous", start)
        return RunRef("last", "last", start)
    if match.group("trial"):
        return RunRef("pronoun", "", start)  # "the best trial": the run the latest search answer named
    if match.group("firstn"):
        return RunRef("firstn", str(parse_int(match.group("fn")) or 2), start)
    if match.group("ordinal"):
        if match.group("ord4"):
            return RunRef("ordinal", str(int(match.group("ord4")) - 1), start)
        if match.group("ord8"):
            return RunRef("ordinal", str((parse_int(match.group("ord8")) or 1) - 1), start)
        word = next(match.group(name) for name in ("ord", "ord2", "ord3", "ord5", "ord6", "ord7") if match.group(name))
        word = word.lower()
        return RunRef("ordinal", str(_ORDINALS[word]), start)
    if match.group("lastbare"):
        return RunRef("last", "last", start)
    if match.group("bestwhich"):
        metric_text = match.group("bwm") or match.group("bhm")
        metric = first_metric(metric_text) if metric_text else None
        return RunRef("best", _best_value(_family(match.group("bwf")), metric), start)
    if match.group("bestbare"):
        return RunRef("best", "best", start)
    if match.group("plural"):
        written = match.group("pn") or match.group("pn2")  # "all three of those": that many, or a question
        return RunRef("plural", str(parse_int(written)) if written else "", start)
    if match.group("pron"):
        return RunRef("pronoun", "", start)
    if match.group("prefix"):
        return RunRef("id", match.group("px").lower(), start)
    if match.group("bare"):
        return RunRef("id", match.group("bx").lower(), start)
    if match.group("label"):
        return RunRef("label", match.group("lw").lower(), start)
    return RunRef("family", f"best:{_family(match.group('fam'))}", start)


# "the dynunet and the segresnet from that list": families that name rows of the table shown, not the best runs
_FROM_LIST: Final = re.compile(
    r"\b(?:from|in|of|on)\s+(?:that|the|this)\s+(?:list|table|leaderboard|ranking|comparison|board)\b"
    r"|\b(?:shown|listed)\b|\babove\b|\b(?:of|among|from)\s+(?:those|these|them)\b",
    re.I,
)


def run_refs(text: str) -> list[RunRef]:
    """Every run reference in `text`, in order of appearance."""
    listed = bool(_FROM_LIST.search(text))
    refs: list[RunRef] = []
    for match in _REF_RE.finditer(text):
        ref = _from_match(match)
        if ref.kind == "pronoun" and _OBJECT_IT.search(text[max(0, match.start() - 12) : match.start()]):
            continue  # "save it to …": "it" is the output, not a run
        if listed and ref.kind == "family":
            ref = RunRef("label", ref.value.removeprefix("best:"), ref.start)
        refs.append(RunRef(ref.kind, ref.value, ref.start, match.end(), ref.ranked))
    return refs
