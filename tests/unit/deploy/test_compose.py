"""docker-compose.yml, its Dockerfile and the monitoring config, checked without a container engine.

`docker-compose config` resolves the file (interpolation, required variables, anchors) exactly as `up` would; the
images are never built or run here. docker-compose 1.29 prints every service whatever `--profile` says (Compose v2
prints only the active ones), so the active set is computed from each service's `profiles:` as Compose does.
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / "deploy" / "compose.env.example"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "minivess-serving.json"
JOBS_DASHBOARD = GRAFANA / "dashboards" / "minivess-jobs.json"

SERVE_COMMAND = ["minivess", "serve", "--host", "0.0.0.0", "--port", "3000"]
LANGFUSE = {
    "langfuse-web",
    "langfuse-worker",
    "langfuse-postgres",
    "langfuse-clickhouse",
    "langfuse-redis",
    "langfuse-minio",
}
PROFILES: dict[str, set[str]] = {
    "dev": {"mlflow", "labelstudio"},
    "serve": {"serve"},
    "monitoring": {"prometheus", "grafana", "pushgateway"},
}
PROFILES["full"] = set().union(*PROFILES.values()) | LANGFUSE

REQUIRED = {
    "LABEL_STUDIO_USERNAME",
    "LABEL_STUDIO_PASSWORD",
    "LABEL_STUDIO_USER_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
    "LANGFUSE_NEXTAUTH_SECRET",
    "LANGFUSE_SALT",
    "LANGFUSE_ENCRYPTION_KEY",
    "LANGFUSE_POSTGRES_PASSWORD",
    "LANGFUSE_CLICKHOUSE_PASSWORD",
    "LANGFUSE_REDIS_AUTH",
    "LANGFUSE_MINIO_PASSWORD",
}
DUMMY = {name: f"dummy-{name.lower()}" for name in REQUIRED}

# the metrics `minivess serve` exposes: name → Prometheus type
METRICS = {
    "minivess_segment_requests_total": "counter",
    "minivess_segment_latency_seconds": "histogram",
    "minivess_segment_volume_voxels": "histogram",
}


def _compose_exe() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed: these tests validate docker-compose.yml with `docker-compose config` "
            "and never skip (apt-get install docker-compose; .ci/run does it)",
            pytrace=False,
        )
    return exe


@cache
def _compose(args: tuple[str, ...], env_items: tuple[tuple[str, str], ...], env_file: str) -> CompletedProcess[str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", **dict(env_items)}
    command = [_compose_exe(), "-f", str(COMPOSE_FILE), "--env-file", env_file, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, cwd=REPO, check=False)


def compose(*args: str, env: Mapping[str, str] = DUMMY, env_file: Path | None = None) -> CompletedProcess[str]:
    """docker-compose on our file with exactly these variables (and PATH); cached, the file does not change.

    The env file defaults to an empty one, which keeps a developer's ./.env out of interpolation.
    """
    return _compose(args, tuple(sorted(env.items())), str(env_file or _empty_env_file()))


@cache
def _empty_env_file() -> Path:
    with tempfile.NamedTemporaryFile("w", prefix="minivess-compose-", suffix=".env", delete=False) as handle:
        pass
    atexit.register(Path(handle.name).unlink, missing_ok=True)
    return Path(handle.name)


def active(config: Mapping[str, Any], profile: str) -> dict[str, Any]:
    """The services `--profile PROFILE up` starts: those without profiles, and those listing PROFILE."""
    services: dict[str, Any] = config["services"]
    return {name: s for name, s in services.items() if not s.get("profiles") or profile in s["profiles"]}


@cache
def resolved(profile: str) -> dict[str, Any]:
    """`docker-compose --profile PROFILE config`, parsed (required variables set to dummy values)."""
    result = compose("--profile", profile, "config")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """target → source of a resolved service's volumes (short syntax from 1.29, long syntax from v2)."""
    found: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *_ = volume.split(":")
        else:
            source, target = volume["source"], volume["target"]
        found[target] = source
    return found


def env_of(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):  # KEY=VALUE list form
        return dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def _published(service: Mapping[str, Any]) -> set[int]:
    """Container ports a resolved service publishes ("host:port:container/tcp" from 1.29, dicts from v2)."""
    ports = set()
    for port in service.get("ports", []):
        ports.add(int(port["target"]) if isinstance(port, dict) else int(str(port).split(":")[-1].split("/")[0]))
    return ports


# --- profiles ----------------------------------------------------------------------------------------------------


def test_profiles_are_exactly_the_four() -> None:
    result = compose("config", "--profiles")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == set(PROFILES)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_profile_starts_exactly_its_services(profile: str) -> None:
    config = resolved(profile)
    services = active(config, profile)
    print(f"--profile {profile}: {' '.join(sorted(services))}")
    assert set(services) == PROFILES[profile]
    # a dependency outside the profile would be missing at `up`
    for name, service in services.items():
        assert set(service.get("depends_on") or ()) <= set(services), f"{name} depends on a service outside {profile}"


def test_every_service_names_its_profiles() -> None:
    """No service runs by default: `docker compose up` without a profile starts nothing."""
    services = resolved("full")["services"]
    assert set(services) == PROFILES["full"]
    assert all(service.get("profiles") for service in services.values())
    assert active(resolved("full"), "no-such-profile") == {}


# --- required variables ------------------------------------------------------------------------------------------


def test_required_variables_are_the_documented_ones() -> None:
    text = COMPOSE_FILE.read_text()
    assert set(re.findall(r"\$\{(\w+):\?", text)) == REQUIRED
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert set(re.findall(r"\$\{(\w+)", text)) <= set(example), "every variable the file reads is in the example"
    assert all(example[name] == "" for name in REQUIRED), "required values are left empty for the user to fill"


def test_unfilled_example_is_refused() -> None:
    """The example as shipped fails `config`: an empty required value counts as missing (`:?`)."""
    result = compose("config", "-q", env={}, env_file=ENV_EXAMPLE)
    assert result.returncode != 0
    assert "set LABEL_STUDIO_" in result.stderr


@pytest.mark.parametrize("name", ["LABEL_STUDIO_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "LANGFUSE_ENCRYPTION_KEY"])
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_missing_required_secret_fails_naming_it(name: str, how: str) -> None:
    env = {key: value for key, value in DUMMY.items() if key != name}
    if how == "empty":
        env[name] = ""
    result = compose("--profile", "dev", "config", "-q", env=env)
    assert result.returncode != 0
    # 1.29 echoes the raw `${...}` expressions of the service too: only our message outside them counts
    said = re.sub(r"\$\{[^}]*\}", "", result.stderr)
    assert f"set {name}" in said, result.stderr


# --- the services ------------------------------------------------------------------------------------------------


def test_serve_service() -> None:
    serve = resolved("serve")["services"]["serve"]
    assert serve["command"] == SERVE_COMMAND
    assert Path(serve["build"]["context"]) == REPO and serve["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    env = env_of(serve)
    assert env["MINIVESS_SERVE_MODEL"] == "champion"
    assert env["MINIVESS_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["MINIVESS_HOME"] == "/data/minivess" and mounts(serve)["/data/minivess"] == "minivess-home"
    assert "http://127.0.0.1:3000/healthz" in " ".join(serve["healthcheck"]["test"])
    assert _published(serve) == {3000}
    limits = serve["deploy"]["resources"]["limits"]
    assert {"cpus", "memory"} <= set(limits)
    assert serve["read_only"] is True and any("/tmp" in str(t) for t in serve["tmpfs"])


def test_serve_overrides() -> None:
    env = {**DUMMY, "MINIVESS_SERVE_MODEL": "challenger", "MINIVESS_MLFLOW_TRACKING_URI": "https://mlflow.example"}
    result = compose("--profile", "serve", "config", env=env)
    assert result.returncode == 0, result.stderr
    serve = env_of(yaml.safe_load(result.stdout)["services"]["serve"])
    assert serve["MINIVESS_SERVE_MODEL"] == "challenger"
    assert serve["MINIVESS_MLFLOW_TRACKING_URI"] == "https://mlflow.example"


def test_serve_cli_has_the_options_compose_uses() -> None:
    """`minivess serve --help` lists --host and --port (the command is written by another change; fails until then)."""
    result = subprocess.run(
        [sys.executable, "-m", "minivess", "serve", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--host" in result.stdout and "--port" in result.stdout


def test_mlflow_service() -> None:
    services = resolved("dev")["services"]
    mlflow = services["mlflow"]
    assert mlflow["command"] == [
        "mlflow",
        "server",
        "--backend-store-uri",
        "sqlite:////data/mlflow/mlflow.db",
        "--artifacts-destination",
        "/data/mlflow/artifacts",
        "--host",
        "0.0.0.0",
        "--port",
        "5000",
        "--workers",
        "1",
    ]
    assert mlflow["image"] == services["serve"]["image"] and mlflow["build"] == services["serve"]["build"]
    assert "/data/mlflow" in mounts(mlflow)
    assert "http://127.0.0.1:5000/health" in " ".join(mlflow["healthcheck"]["test"])
    # MLflow 3 refuses other Host headers than localhost's: `serve` reaches it as mlflow:5000
    assert "mlflow:*" in env_of(mlflow)["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")


def test_labelstudio_matches_the_native_start() -> None:
    labelstudio = resolved("dev")["services"]["labelstudio"]
    assert labelstudio["image"] == "heartexlabs/label-studio:1.23.2"
    env = env_of(labelstudio)
    from minivess.pipelines.annotation.server import LOCKED_DOWN_ENV

    assert env == {  # the native start's locked-down settings (pipelines/annotation/server.py), exactly
        "LABEL_STUDIO_USERNAME": DUMMY["LABEL_STUDIO_USERNAME"],
        "LABEL_STUDIO_PASSWORD": DUMMY["LABEL_STUDIO_PASSWORD"],
        "LABEL_STUDIO_USER_TOKEN": DUMMY["LABEL_STUDIO_USER_TOKEN"],
        **LOCKED_DOWN_ENV,
    }
    assert "/label-studio/data" in mounts(labelstudio)
    assert _published(labelstudio) == {8080}


def test_full_points_serve_at_its_langfuse() -> None:
    keys = {"LANGFUSE_PUBLIC_KEY": "pk-lf-test", "LANGFUSE_SECRET_KEY": "sk-lf-test"}
    result = compose("--profile", "full", "config", env={**DUMMY, **keys})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    serve, web = env_of(services["serve"]), env_of(services["langfuse-web"])
    assert serve["LANGFUSE_HOST"] == "http://langfuse-web:3000"
    assert (serve["LANGFUSE_PUBLIC_KEY"], serve["LANGFUSE_SECRET_KEY"]) == ("pk-lf-test", "sk-lf-test")
    assert (web["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"], web["LANGFUSE_INIT_PROJECT_SECRET_KEY"]) == (
        "pk-lf-test",
        "sk-lf-test",
    )
    assert services["langfuse-web"]["image"] == "langfuse/langfuse:3"
    assert services["langfuse-postgres"]["image"] == "postgres:16"
    # web and worker share the stores' settings, and wait for every store to be healthy
    worker = env_of(services["langfuse-worker"])
    assert all(web[key] == value for key, value in worker.items())
    stores = {"langfuse-postgres", "langfuse-clickhouse", "langfuse-redis", "langfuse-minio"}
    for name in ("langfuse-web", "langfuse-worker"):
        depends = services[name]["depends_on"]
        assert set(depends) == stores and all(d["condition"] == "service_healthy" for d in depends.values())
        assert all("healthcheck" in services[store] for store in stores)
    assert f"langfuse:{DUMMY['LANGFUSE_POSTGRES_PASSWORD']}@langfuse-postgres:5432" in worker["DATABASE_URL"]


# --- Dockerfile --------------------------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile() -> None:
    steps = _instructions()
    assert all(args.startswith("python:3.11-slim") for kind, args in steps if kind == "FROM")
    runs = [args for kind, args in steps if kind == "RUN"]
    torch_at = next(i for i, run in enumerate(runs) if "torch==" in run)
    project_at = next(i for i, run in enumerate(runs) if re.search(r"pip install \.(\s|$)", run))
    assert torch_at < project_at, "torch (CPU build) is installed before the project"
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_at]
    pinned = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert next(dep for dep in pinned if dep.startswith("torch")) in runs[torch_at].split()
    env = " ".join(args for kind, args in steps if kind == "ENV")
    assert "MINIVESS_HOME=/data/minivess" in env
    user = [args for kind, args in steps if kind == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert [args for kind, args in steps if kind == "EXPOSE"] == ["3000 7860"]
    assert json.loads(next(args for kind, args in reversed(steps) if kind == "CMD")) == SERVE_COMMAND


def test_dockerignore_keeps_state_and_secrets_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv*", ".minivess", "**/__pycache__", "benchmarks/data", "deploy/compose.env", ".env"} <= ignored


# --- monitoring --------------------------------------------------------------------------------------------------


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
