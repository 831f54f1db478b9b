"""`minivess search start` on real Ray Tune leaves HOME/metrics/search-<id>.prom with the trial table's counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from minivess.pipelines.search import record as records
from minivess.pipelines.search import trial_state
from minivess.settings import get_settings
from tests.integration.test_search import tiny_search

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_search_start_leaves_its_job_metrics(tiny_synthetic: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "minivess", *tiny_search(tiny_synthetic, 2)],
        env={**os.environ, "MINIVESS_TRACING": "off"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    settings = get_settings()
    record = records.load(settings, "last")
    path = settings.home_dir / "metrics" / f"search-{record.search_id}.prom"
    samples = {
        (s.name, s.labels.get("state")): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
        if s.labels["job"] == "search" and s.labels["instance"] == record.search_id
    }
    rows = [r for r in trial_state.trial_rows(settings, record) if not r.interrupted]
    for state, label in (("COMPLETE", "completed"), ("FAIL", "failed"), ("PRUNED", "pruned")):
        assert samples[("minivess_search_trials_total", label)] == sum(r.state == state for r in rows)
    assert samples[("minivess_job_status", None)] == 0 and samples[("minivess_job_running", None)] == 0
    assert samples[("minivess_job_last_success_timestamp_seconds", None)] > 0
    best = max(r.score for r in rows if r.score is not None)
    assert samples[("minivess_search_best_score", None)] == pytest.approx(best)
