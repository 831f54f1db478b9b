"""What every command shares, loaded on first use so `minivess --help` imports no pydantic-settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minivess.settings import Settings


def get_settings() -> Settings:
    """The effective settings (`minivess.settings.get_settings`, imported when a command runs)."""
    from minivess.settings import get_settings as load

    return load()
