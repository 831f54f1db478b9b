"""Prompt templates shipped as package data, loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

PromptName = Literal["supervisor", "experimenter", "analyst"]


@cache
def load_prompt(name: PromptName) -> str:
    """The text of prompts/<name>.md."""
    return resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8").strip()
