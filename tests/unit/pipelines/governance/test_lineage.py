"""OpenLineage events: START then COMPLETE or FAIL, valid JSON, never breaking the work."""

from __future__ import annotations

import logging
import uuid

import pytest

from minivess.pipelines.governance import lineage
from minivess.settings import Settings, get_settings


def test_complete_and_fail_events_are_written_as_valid_openlineage_json() -> None:
    settings = get_settings()
    with lineage.job_run(settings, "train", inputs=[lineage.dataset_name("ds", "abc123abc123")]) as run:
        run.link(mlflow_run_id="r" * 32, trace_id="t1")
        run.outputs("model/r1")
    with pytest.raises(ValueError, match="boom"), lineage.job_run(settings, "evaluate"):
        raise ValueError("boom")

    events = lineage.read_events(settings)
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [
        ("START", "train"), ("COMPLETE", "train"), ("START", "evaluate"), ("FAIL", "evaluate")
    ]  # fmt: skip
    for event in events:
        uuid.UUID(event["run"]["runId"])
        assert event["job"]["namespace"] == lineage.NAMESPACE and event["eventTime"].endswith("+00:00")
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    assert events[1]["inputs"][0]["name"] == "dataset/ds@abc123abc123"
    assert events[1]["outputs"][0]["name"] == "model/r1"
    assert events[1]["run"]["facets"]["minivess"]["mlflow_run_id"] == "r" * 32
    assert events[1]["run"]["facets"]["minivess"]["trace_id"] == "t1"
    assert "ValueError: boom" in events[3]["run"]["facets"]["errorMessage"]["message"]


def test_a_transport_failure_warns_once_and_the_work_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(home=get_settings().home, openlineage_url="http://127.0.0.1:9")
    lineage.warn_reset()
    done = []
    with caplog.at_level(logging.WARNING), lineage.job_run(settings, "search") as run:
        done.append(run.job)
    assert done == ["search"]
    assert len([r for r in caplog.records if "OpenLineage" in r.getMessage()]) == 1
    lineage.warn_reset()


def test_the_job_decorator_wraps_a_pipeline_entry_point() -> None:
    settings = get_settings()

    class Result:
        run_id = "abc"

    @lineage.job("evaluate")
    def evaluate(ref: str, settings: Settings) -> Result:
        return Result()

    assert evaluate("last", settings).run_id == "abc"
    events = lineage.read_events(settings)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["inputs"][0]["name"] == "run/last"
    assert events[1]["run"]["facets"]["minivess"]["mlflow_run_id"] == "abc"
