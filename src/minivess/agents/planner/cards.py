"""Builder for the model card: the run or registered model named, else the champion.

"make a model card for the champion", "write the model card of run abc123", "document the production model":
a card documents one model, so a single reference is used; with none named it is the champion's card (the
model people ask to document), never a guess from the conversation's latest run unless "it" points at one.
"""

from __future__ import annotations

import re
from typing import Final

from minivess.agents.planner.builders import Builder, Built
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.models import Step
from minivess.agents.planner.refs import RunRef
from minivess.agents.planner.resolve import RefResolver

DEFAULT_MODEL: Final = "champion"


_VERSION: Final = re.compile(
    r"(?<![\w/.-])(?P<name>[A-Za-z][\w.-]*[A-Za-z0-9])(?:\s+version\s+|\s+v|@)(?P<version>\d+)\b", re.I
)
_VERSION_OF: Final = re.compile(
    r"\bversion\s+(?P<version>\d+)\s+of\s+(?:the\s+)?(?P<name>[A-Za-z][\w.-]*[A-Za-z0-9])\b", re.I
)
_ITS: Final = re.compile(r"\bits\s+(?:model\s+)?card\b", re.I)
_NOT_MODEL_NAMES: Final = frozenset({"the", "model", "card", "of", "for", "registered", "its", "a"})


def build_model_card(clause: str, refs: list[RunRef], res: RefResolver) -> Built:
    """model_card of the one model named (a registered version "name version 3", a run, 'it', the champion or
    challenger), else of the champion."""
    versions = [found for found in _VERSION.finditer(clause) if found.group("name").lower() not in _NOT_MODEL_NAMES]
    versions += [found for found in _VERSION_OF.finditer(clause) if found.group("name").lower() not in _NOT_MODEL_NAMES]
    written = {f"{found.group('name')}@{found.group('version')}" for found in versions}
    if len(written) == 1:  # "version 2 of minivess-segmenter (minivess-segmenter@2)": one version, however written
        return [Step("model_card", {"model": written.pop()})]
    named = [ref for ref in refs if ref.kind != "family"]
    several = [ref for ref in named if ref.kind in ("alias", "id")]
    if len(several) > 1 and all(ref.kind in ("alias", "id", "plural") for ref in named):
        # "model cards for both the champion and the challenger": one card each
        return [Step("model_card", {"model": value}) for value in dict.fromkeys(res.resolve(several, single=False))]
    values = res.resolve(named, single=True) if named else []
    if not values and _ITS.search(clause) and (implicit := res.implicit()) is not None:
        # "run the weight gate on the challenger and write its model card": the card of the run that step was
        # given (a registry alias documents its registered version), else of the run it made
        values = [res.reference if isinstance(res.reference, str) else implicit]
    return [Step("model_card", {"model": values[0] if values else DEFAULT_MODEL})]


CARD_BUILDERS: Final[dict[Intent, Builder]] = {"model_card": build_model_card}
