"""Evals tests run chat turns, which build tracers: close them after each test (their export threads)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from minivess.observability import reset_tracers


@pytest.fixture(autouse=True)
def _close_tracers() -> Iterator[None]:
    yield
    reset_tracers()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})
