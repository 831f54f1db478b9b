"""docker-compose.yml and its Dockerfile, checked without a container engine (see compose_support)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.compose_support import (
    COMPOSE_FILE,
    DUMMY,
    ENV_EXAMPLE,
    PROFILES,
    REPO,
    REQUIRED,
    SERVE_COMMAND,
    _published,
    active,
    compose,
    env_of,
    mounts,
    resolved,
)

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
