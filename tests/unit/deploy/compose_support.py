"""Shared by the compose and monitoring tests: the files, the documented variables, and `docker-compose config`.

`docker-compose config` resolves the file (interpolation, required variables, anchors) exactly as `up` would; the
images are never built or run here. docker-compose 1.29 prints every service whatever `--profile` says (Compose v2
prints only the active ones), so the active set is computed from each service's `profiles:` as Compose does.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
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
