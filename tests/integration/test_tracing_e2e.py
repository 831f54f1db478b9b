"""A chat request leaves a local trace: supervisor and worker generations → tool → training epochs, linked to MLflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from minivess.pipelines.tracking import naming
from minivess.settings import get_settings

pytestmark = pytest.mark.integration


def _minivess(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "minivess", *args], capture_output=True, text=True, timeout=600, env=env
    )


def test_chat_turn_trace_tree_and_mlflow_link(
    tiny_synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(tiny_synthetic, tmp_path / "data" / "synthetic")
    monkeypatch.setenv("MINIVESS_DATA_DIR", str(tmp_path / "data"))
    asked = _minivess("ask", "train a segresnet for 1 epoch on the synthetic data", "--yes", "--json")
    assert asked.returncode == 0, asked.stderr
    outcome = json.loads(asked.stdout)
    trace_id, run_id = outcome["trace_id"], outcome["tools"][0]["result"]["run_id"]
    assert len(trace_id) == 32

    shown = _minivess("traces", "show", trace_id)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()

    def first(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    # One generation per LLM hop, named after the node that called the model (the supervisor hands off, the
    # experimenter calls the tool), then the tool and its training epochs.
    order = [
        first("generation supervisor"),
        first("generation experimenter"),
        first("tool train_model"),
        first("event epoch"),
    ]
    assert order == sorted(order)
    assert "generation llm" not in shown.stdout  # no unnamed LLM call
    assert "train a segresnet for 1 epoch" in shown.stdout  # the turn's input
    assert run_id in shown.stdout  # the tool's output

    run = MlflowClient(get_settings().tracking_uri).get_run(run_id)
    assert run.data.tags[naming.TAG_TRACE_ID] == trace_id

    exported = _minivess("traces", "export", trace_id)
    payload = json.loads(exported.stdout)
    assert run_id in json.dumps(payload)
