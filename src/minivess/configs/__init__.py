"""Pydantic config models (extra="forbid"), preset loading and dotted overrides."""

from minivess.configs.data import AugmentConfig, DataConfig
from minivess.configs.experiment import ExperimentConfig
from minivess.configs.loading import apply_overrides, flatten, load_experiment

__all__ = ["AugmentConfig", "DataConfig", "ExperimentConfig", "apply_overrides", "flatten", "load_experiment"]
