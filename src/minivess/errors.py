"""The minivess error tree: every message says what was wrong and what to do."""

from __future__ import annotations


class MinivessError(Exception):
    """Base of every error minivess raises on purpose."""


class ConfigError(MinivessError, ValueError):
    """A setting, preset or override is invalid (also a ValueError, for callers that catch that)."""


class DataError(MinivessError):
    """Input data is missing, unreadable or inconsistent."""


class ToolInputError(MinivessError):
    """An LLM-facing tool got arguments the model can fix; sent back as a tool message."""


class PipelineError(MinivessError):
    """A pipeline stage failed for a reason other than bad input."""


class TrainingError(PipelineError):
    """Training or evaluation failed."""


class TrackingError(PipelineError):
    """The experiment tracker (MLflow) could not be read or written."""


class AnalyticsError(PipelineError):
    """The analytics warehouse could not answer."""


class LabelStudioError(PipelineError):
    """Label Studio could not be reached or answered unexpectedly."""


class AgentError(MinivessError):
    """The agent cannot take the request in its current state (e.g. an approval is pending)."""
