"""With BRAINTRUST_API_KEY the suites log an experiment to Braintrust; without it they stay local.

Proven without network: BRAINTRUST_APP_URL points the SDK at a local fake API that records every request.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.evals import build_suite
from minivess.evals.history import history_path, read_records
from minivess.evals.planner import load_cases
from minivess.evals.suite import run_suite
from minivess.settings import get_settings
from tests.unit.evals.fake_braintrust import fake_braintrust


def _rows(bodies: list[object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for body in bodies:
        if isinstance(body, dict):
            rows += body.get("rows", [])
    return rows


def test_with_a_key_the_experiment_goes_to_braintrust(monkeypatch: pytest.MonkeyPatch, minivess_home: Path) -> None:
    with fake_braintrust() as fake:
        monkeypatch.setenv("BRAINTRUST_APP_URL", fake.url)
        monkeypatch.setenv("MINIVESS_BRAINTRUST_API_KEY", "sk-test-key")
        settings = get_settings()
        run = run_suite(build_suite("planner", settings, limit=3), settings)

    assert run.sent
    paths = fake.paths()
    assert paths[0] == "POST /api/apikey/login"
    assert {"POST /v1/project", "POST /v1/experiment", "POST /logs3"} <= set(paths)
    assert all(r.authorization == "Bearer sk-test-key" for r in fake.requests if r.path.startswith("/api/apikey"))
    (project,) = fake.bodies("POST", "/v1/project")
    assert project["name"] == "minivess-planner"
    (experiment,) = fake.bodies("POST", "/v1/experiment")
    metadata = experiment["metadata"]
    assert metadata["model"] == "minivess/planner"
    assert metadata["commit"] == run.info.commit and metadata["commit"]
    assert metadata["dataset_version"] == run.info.dataset_version
    assert run.info.model in experiment["name"] and run.info.run_id in experiment["name"]

    rows = _rows(fake.bodies("POST", "/logs3"))
    logged = {r["input"]["request"] for r in rows if isinstance(r.get("input"), dict) and "request" in r["input"]}
    assert logged == {case.request for case in load_cases()[:3]}
    scored = [r for r in rows if isinstance(r.get("scores"), dict) and "tool_choice" in r["scores"]]
    assert scored, "the scorer spans carry the scores"
    # the local history is kept either way
    assert len(read_records(history_path(settings))) == 3


def test_without_a_key_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_braintrust() as fake:
        monkeypatch.setenv("BRAINTRUST_APP_URL", fake.url)
        settings = get_settings()
        run = run_suite(build_suite("planner", settings, limit=2), settings)
    assert not run.sent
    assert fake.requests == []
    assert [r.suite for r in run.records] == ["planner", "planner"]


def test_offline_wins_over_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_braintrust() as fake:
        monkeypatch.setenv("BRAINTRUST_APP_URL", fake.url)
        monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-test-key")
        settings = get_settings()
        run = run_suite(build_suite("planner", settings, limit=1), settings, send=False)
    assert not run.sent
    assert fake.requests == []
