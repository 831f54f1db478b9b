"""Shared fixtures: every test gets its own MINIVESS_HOME so nothing touches the user's home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# litellm fetches its price map from the internet when imported without this (tests/fakes.py imports it directly).
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def minivess_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point MINIVESS_HOME at a fresh temp dir and clear service variables for every test."""
    home = tmp_path / "minivess-home"
    monkeypatch.setenv("MINIVESS_HOME", str(home))
    for name in list(os.environ):
        if (
            name.startswith(("MINIVESS_", "LANGFUSE_", "BRAINTRUST_", "LABEL_STUDIO_", "MLFLOW_"))
            and name != "MINIVESS_HOME"
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield home
    from minivess.observability import reset_tracers

    reset_tracers()  # close this home's tracer (threads, SQLite) before the next test


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gpu` tests run only where CUDA exists; the reason is shown in the summary (-ra)."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        has_cuda = False
    if has_cuda:
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA; none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def scripted_llm(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The scripted fake LLM, selected through settings alone (MINIVESS_LLM_MODEL), like any real model."""
    from tests.fakes import MODEL, install

    fake = install()
    monkeypatch.setenv("MINIVESS_LLM_MODEL", MODEL)
    monkeypatch.setenv("MINIVESS_LLM_FALLBACKS", "[]")
    return fake
