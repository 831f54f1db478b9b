"""The search space: which families, losses, optimisers and learning rates a search may try.

Categorical choices are fixed for a search's whole study (Optuna refuses a categorical whose choices change);
between rounds only the learning-rate range narrows or widens, which Optuna allows.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LOSSES: Final = ("dice_ce", "dice_ce_cldice")
OPTIMIZERS: Final = ("adamw", "sgd")
LR_LIMITS: Final = (1e-5, 0.1)
"""The widest learning-rate range any round may use."""

Param = Literal["family", "loss", "optimizer", "lr"]


class SearchSpace(BaseModel):
    """One round's space. `suggest` draws a configuration from an Optuna trial (define-by-run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    families: tuple[str, ...] = Field(min_length=1, description="Model families (catalog names).")
    losses: tuple[str, ...] = Field(LOSSES, min_length=1, description="Loss names.")
    optimizers: tuple[str, ...] = Field(OPTIMIZERS, min_length=1, description="Optimiser names.")
    lr_low: float = Field(1e-4, gt=0, description="Lowest learning rate (log-uniform).")
    lr_high: float = Field(1e-2, gt=0, lt=1, description="Highest learning rate.")

    @model_validator(mode="after")
    def _ordered(self) -> SearchSpace:
        if self.lr_low >= self.lr_high:
            raise ValueError(f"lr_low {self.lr_low:g} must be below lr_high {self.lr_high:g}")
        return self

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Sample one configuration from an `optuna.Trial` (or Ray's captor of one)."""
        return {
            "family": trial.suggest_categorical("family", list(self.families)),
            "loss": trial.suggest_categorical("loss", list(self.losses)),
            "optimizer": trial.suggest_categorical("optimizer", list(self.optimizers)),
            "lr": trial.suggest_float("lr", self.lr_low, self.lr_high, log=True),
        }

    def contains(self, config: dict[str, Any]) -> bool:
        """Whether a configuration (e.g. a past run) lies inside this space."""
        try:
            lr = float(config["lr"])
        except (KeyError, TypeError, ValueError):
            return False
        return (
            config.get("family") in self.families
            and config.get("loss") in self.losses
            and config.get("optimizer") in self.optimizers
            and self.lr_low <= lr <= self.lr_high
        )

    def with_lr(self, low: float, high: float) -> SearchSpace:
        """The same categorical choices with another learning-rate range, clipped to `LR_LIMITS`."""
        low, high = max(LR_LIMITS[0], low), min(LR_LIMITS[1], high)
        if high / low < 2.0:  # keep at least a factor of two to search in
            centre = math.sqrt(low * high)
            low, high = max(LR_LIMITS[0], centre / math.sqrt(2)), min(LR_LIMITS[1], centre * math.sqrt(2))
        return self.model_copy(update={"lr_low": low, "lr_high": high})

    def describe(self) -> str:
        return (
            f"families {', '.join(self.families)}; losses {', '.join(self.losses)}; "
            f"optimisers {', '.join(self.optimizers)}; lr {self.lr_low:.2g}–{self.lr_high:.2g} (log)"
        )


def train_values(config: dict[str, Any]) -> dict[str, Any]:
    """The typed experiment values (`configs.loading.apply_values` keys) a sampled configuration sets."""
    return {
        "model.name": config["family"],
        "loss.name": config["loss"],
        "optim.name": config["optimizer"],
        "optim.lr": float(config["lr"]),
    }
