"""Every intent's builder, in one table: what plan, merge and follow-ups call to turn a clause into steps."""

from __future__ import annotations

from typing import Final

from minivess.agents.planner.annotation import ANNOTATION_BUILDERS
from minivess.agents.planner.builders import BUILDERS as _CORE
from minivess.agents.planner.builders import Builder
from minivess.agents.planner.cards import CARD_BUILDERS
from minivess.agents.planner.drift import DRIFT_BUILDERS
from minivess.agents.planner.intent_words import Intent
from minivess.agents.planner.search import SEARCH_BUILDERS
from minivess.agents.planner.training import TRAIN_BUILDERS
from minivess.agents.planner.uncertainty import UNCERTAINTY_BUILDERS

BUILDERS: Final[dict[Intent, Builder]] = {
    **_CORE,
    **TRAIN_BUILDERS,
    **UNCERTAINTY_BUILDERS,
    **ANNOTATION_BUILDERS,
    **SEARCH_BUILDERS,
    **CARD_BUILDERS,
    **DRIFT_BUILDERS,
}
