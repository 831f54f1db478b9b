"""Limits of the guarded SQL surface (a light module: the CLI reads the defaults without importing DuckDB)."""

from __future__ import annotations

from typing import Final

DEFAULT_ROW_CAP: Final = 1000
DEFAULT_TIMEOUT_S: Final = 10.0
