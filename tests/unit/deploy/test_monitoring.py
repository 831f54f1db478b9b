"""The monitoring profile: Prometheus scrape jobs, the Pushgateway and the Grafana dashboards' queries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.unit.deploy.compose_support import (
    DASHBOARD,
    GRAFANA,
    JOBS_DASHBOARD,
    METRICS,
    PROMETHEUS_CONFIG,
    _published,
    env_of,
    mounts,
    resolved,
)


def test_prometheus_scrapes_serve() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = [job for job in config["scrape_configs"] if any("serve:3000" in c["targets"] for c in job["static_configs"])]
    assert len(jobs) == 1 and jobs[0].get("metrics_path", "/metrics") == "/metrics"
    prometheus = resolved("monitoring")["services"]["prometheus"]
    [config_flag] = [arg for arg in prometheus["command"] if arg.startswith("--config.file=")]
    assert Path(mounts(prometheus)[config_flag.split("=", 1)[1]]) == PROMETHEUS_CONFIG


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, keywords or labels."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)  # label matchers, ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    names = re.findall(r"(?<![\w.])([A-Za-z_:][\w:]*)\b(?!\s*\()", expr)
    return {name for name in names if name not in PROMQL_WORDS}


def allowed_series() -> set[str]:
    series = set()
    for name, kind in METRICS.items():
        series |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"} if kind == "histogram" else {name}
    return series


def test_metric_name_check_can_fail() -> None:
    assert metric_names('sum by (status) (rate(minivess_segment_requests_total{status!="ok"}[5m]))') == {
        "minivess_segment_requests_total"
    }
    assert metric_names("rate(up[5m]) / minivess_segment_latency_seconds") == {"up", "minivess_segment_latency_seconds"}
    assert not metric_names("rate(up[5m])") <= allowed_series()
    assert not {"minivess_segment_latency_seconds"} <= allowed_series()  # a histogram is read through its series


def test_dashboard_queries_only_our_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = {panel["title"]: [t["expr"] for t in panel["targets"]] for panel in dashboard["panels"]}
    assert all(exprs.values()), "every panel has a query"
    used = set()
    for title, queries in exprs.items():
        for expr in queries:
            names = metric_names(expr)
            assert names and names <= allowed_series(), f"{title}: {expr}"
            used |= names
    assert {name.removesuffix("_bucket") for name in used if name.endswith("_bucket")} == {
        "minivess_segment_latency_seconds",
        "minivess_segment_volume_voxels",
    }
    assert "minivess_segment_requests_total" in used
    latency = " ".join(q for title, qs in exprs.items() for q in qs if "minivess_segment_latency_seconds" in q)
    assert "histogram_quantile(0.5," in latency and "histogram_quantile(0.95," in latency
    titles = " ".join(exprs).lower()
    assert all(word in titles for word in ("request rate", "error rate", "latency", "volume"))


def test_grafana_provisioning_matches_compose_mounts() -> None:
    grafana = resolved("monitoring")["services"]["grafana"]
    mounted = mounts(grafana)
    assert Path(mounted["/etc/grafana/provisioning"]) == GRAFANA / "provisioning"
    [provider] = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "minivess.yaml").read_text())["providers"]
    dashboards_dir = provider["options"]["path"]
    assert Path(mounted[dashboards_dir]) == DASHBOARD.parent
    home = env_of(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(home).parent == Path(dashboards_dir) and (DASHBOARD.parent / Path(home).name).is_file()
    [source] = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in resolved("monitoring")["services"]
    for dashboard in (DASHBOARD, JOBS_DASHBOARD):
        uids = {
            t["datasource"]["uid"] for panel in json.loads(dashboard.read_text())["panels"] for t in panel["targets"]
        }
        assert uids == {source["uid"]}, dashboard.name


# --- batch jobs: Pushgateway and the jobs dashboard ---------------------------------------------------------------


def test_pushgateway_service_and_its_scrape_job() -> None:
    pushgateway = resolved("monitoring")["services"]["pushgateway"]
    assert pushgateway["image"] == "prom/pushgateway:v1.11.1"
    assert set(pushgateway["profiles"]) == {"monitoring", "full"}
    assert _published(pushgateway) == {9091}
    assert all(
        str(p.get("host_ip", p) if isinstance(p, dict) else p).startswith("127.0.0.1") for p in pushgateway["ports"]
    )
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    [job] = [
        j for j in config["scrape_configs"] if any("pushgateway:9091" in c["targets"] for c in j["static_configs"])
    ]
    assert job["honor_labels"] is True, "pushed job/instance labels must survive the scrape"


def test_jobs_dashboard_queries_only_metrics_job_metrics_defines() -> None:
    from minivess.observability.job_metrics import JOB_KINDS, METRIC_NAMES, METRICS

    dashboard = json.loads(JOBS_DASHBOARD.read_text())
    assert dashboard["uid"] == "minivess-jobs" and dashboard["uid"] != json.loads(DASHBOARD.read_text())["uid"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], f"{panel['title']}: a panel without a query"
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names and names <= METRIC_NAMES, f"{panel['title']}: {target['expr']}"
            used |= names
    for kind in JOB_KINDS:  # every job shows up somewhere
        assert any(kind in spec.jobs for spec in METRICS if spec.name in used), kind
    assert "minivess_job_last_success_timestamp_seconds" in used and "minivess_job_duration_seconds" in used
