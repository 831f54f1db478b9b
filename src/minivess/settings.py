"""Effective settings: one pydantic-settings class read from MINIVESS_* variables (and .env)."""

from __future__ import annotations

import os
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ModelWrapValidatorHandler, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from minivess.errors import ConfigError

DEFAULT_SYNTHETIC = "synthetic"  # the generated dataset under the data dir that training uses by default
HOME_HINT = "set MINIVESS_HOME to a folder you can write (it is created if missing)"


def _env(name: str, *aliases: str) -> AliasChoices:
    """Accept MINIVESS_<NAME> first, then the service's own conventional variable names."""
    return AliasChoices(f"MINIVESS_{name}", *aliases)


class Settings(BaseSettings):
    """Where minivess keeps its state and which services it talks to.

    Everything minivess writes lives under ``home``; each path or URI below defaults to a
    location inside it, and setting the variable switches to a hosted service.
    """

    model_config = SettingsConfigDict(env_prefix="MINIVESS_", env_file=".env", extra="ignore", populate_by_name=True)

    home: Path = Field(Path(".minivess"), description="Root of everything minivess writes.")
    data_dir: Path | None = Field(None, description="Datasets; default HOME/data.")
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow store; default sqlite:///HOME/mlflow.db, or an http(s) server URI."
    )
    duckdb_path: Path | None = Field(None, description="Analytics warehouse; default HOME/warehouse.duckdb.")
    llm_model: str = Field("minivess/planner", description="LiteLLM model string; default embedded planner.")
    device: str = Field("auto", description="Torch device: auto (cuda → mps → cpu), cpu, cuda, cuda:1 …")
    llm_fallbacks: list[str] = Field(
        default_factory=lambda: ["minivess/planner"], description="Models tried in order when the model fails."
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="Per-call LLM timeout in seconds.")
    llm_retries: int = Field(1, ge=0, description="Retries per LLM call before falling back.")
    approval_minutes: float = Field(
        0.0, ge=0, description="Ask before a tool estimated to cost more CPU minutes than this (0 = any training)."
    )
    max_steps: int = Field(24, ge=1, description="Graph steps per request before the agent stops.")
    max_tool_calls: int = Field(8, ge=1, description="Tool calls per request before the agent stops.")
    max_compute_minutes: float = Field(120.0, gt=0, description="Estimated compute minutes per request.")
    tracing: bool = Field(True, description="Trace agent steps to HOME/traces.db (+ Langfuse when keys are set).")
    ray_address: str | None = Field(
        None, description="Run searches on this Ray cluster (e.g. 127.0.0.1:6379); default an in-process Ray."
    )
    optuna_storage: str | None = Field(
        None, description="Optuna RDB URL for search studies (many machines); default a journal file per search."
    )
    review_approval_tasks: int = Field(
        25, ge=0, description="Ask before queueing more than this many slices for human review at once."
    )
    gate_alpha_min: float = Field(2.0, gt=0, description="Weight gate: lowest WeightWatcher alpha of a sound layer.")
    gate_alpha_max: float = Field(6.0, gt=0, description="Weight gate: highest alpha of a sound layer.")
    gate_max_fraction_outside: float = Field(
        0.2, ge=0, le=1, description="Weight gate: most analysed layers allowed outside [alpha_min, alpha_max]."
    )
    gate_min_coverage: float = Field(0.5, ge=0, le=1, description="Weight gate: least share of layers analysed.")
    serve_model: str = Field("champion", description="Model `minivess serve` loads: a registry alias or a run id.")
    serve_engine: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="Engine of `minivess serve`: auto (ONNX Runtime when exported, else torch), torch, onnx."
    )
    serve_max_upload_mb: float = Field(
        256.0, gt=0, allow_inf_nan=False, description="Largest upload `minivess serve` accepts (MB)."
    )

    dvc_remote: str | None = Field(
        None, description="DVC remote for dataset versions (e.g. s3://bucket/minivess); default HOME/dvc-remote."
    )
    openlineage_url: str | None = Field(
        None, description="OpenLineage HTTP endpoint (e.g. Marquez http://host:5000); default HOME/lineage/ files."
    )
    pushgateway_url: str | None = Field(
        None, description="Prometheus Pushgateway for job metrics (e.g. http://host:9091); default HOME/metrics/ files."
    )
    user: str | None = Field(None, description="Name recorded in the audit trail; default the OS user.")

    langfuse_public_key: SecretStr | None = Field(
        None, validation_alias=_env("LANGFUSE_PUBLIC_KEY", "LANGFUSE_PUBLIC_KEY")
    )
    langfuse_secret_key: SecretStr | None = Field(
        None, validation_alias=_env("LANGFUSE_SECRET_KEY", "LANGFUSE_SECRET_KEY")
    )
    langfuse_host: str | None = Field(None, validation_alias=_env("LANGFUSE_HOST", "LANGFUSE_HOST"))
    braintrust_api_key: SecretStr | None = Field(
        None, validation_alias=_env("BRAINTRUST_API_KEY", "BRAINTRUST_API_KEY")
    )
    label_studio_url: str = Field(
        "http://127.0.0.1:8089", validation_alias=_env("LABEL_STUDIO_URL", "LABEL_STUDIO_URL")
    )
    label_studio_token: SecretStr | None = Field(
        None, validation_alias=_env("LABEL_STUDIO_TOKEN", "LABEL_STUDIO_API_KEY")
    )
    label_studio_venv: Path | None = Field(
        None, description="Virtualenv of the local Label Studio server (bin/label-studio); default .venv-labelstudio."
    )

    _home_blank: bool = PrivateAttr(False)

    @model_validator(mode="wrap")
    @classmethod
    def _note_blank_home(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        """Remember ``MINIVESS_HOME=`` (empty): Path("") would silently make the current folder the home."""
        blank = isinstance(data, dict) and isinstance(data.get("home"), str) and not data["home"].strip()
        settings = handler({k: v for k, v in data.items() if k != "home"} if blank else data)
        settings._home_blank = blank
        return settings

    @property
    def home_path(self) -> Path:
        """The absolute home directory, without creating or checking it."""
        return self.home.expanduser().resolve()

    @cached_property
    def home_dir(self) -> Path:
        """The absolute home directory, created and checked on first use (see ``check_home``)."""
        return self.check_home()

    def check_home(self) -> Path:
        """Create the home if it is missing and prove it is a folder we can write, before any work.

        Returns:
            The absolute home directory.

        Raises:
            ConfigError: ``MINIVESS_HOME`` is empty, names a file, cannot be created or is not writable.
                Nothing has been written.
        """
        if self._home_blank:
            raise ConfigError(f"MINIVESS_HOME is set but empty; unset it (default ./.minivess) or {HOME_HINT}.")
        path = self.home_path
        if path.exists() and not path.is_dir():
            raise ConfigError(f"the minivess home {path} is a file, not a folder; {HOME_HINT}.")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the minivess home {path} ({exc.strerror}); {HOME_HINT}.") from exc
        try:  # os.access is not enough: root passes it on read-only mounts and pseudo file systems
            fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
            os.close(fd)
            Path(probe).unlink()
        except OSError as exc:
            raise ConfigError(f"the minivess home {path} is not writable ({exc.strerror}); {HOME_HINT}.") from exc
        return path

    @property
    def resolved_data_dir(self) -> Path:
        return (self.data_dir or self.home_dir / "data").expanduser().resolve()

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        """Where MLflow artifacts go for experiments we create on a local store."""
        return self.home_dir / "mlartifacts"

    @property
    def warehouse_path(self) -> Path:
        return (self.duckdb_path or self.home_dir / "warehouse.duckdb").expanduser().resolve()

    @property
    def runs_dir(self) -> Path:
        """Local working directories of training runs (checkpoints for resume)."""
        return self.home_dir / "runs"

    def masked(self) -> dict[str, Any]:
        """Effective settings with every secret masked, for display."""
        shown: dict[str, Any] = {}
        for name, value in self:
            if isinstance(value, SecretStr):
                shown[name] = "********" if value.get_secret_value() else ""
            else:
                shown[name] = value
        try:
            shown["home"] = str(self.home_dir)
        except ConfigError as exc:  # still show everything else: this is how a user finds what to fix
            shown["home"] = f"{'' if self._home_blank else self.home_path} (unusable: {exc})"
            return shown
        shown["data_dir"] = str(self.resolved_data_dir)
        shown["mlflow_tracking_uri"] = self.tracking_uri
        shown["duckdb_path"] = str(self.warehouse_path)
        return shown


def get_settings() -> Settings:
    """Read settings from the environment now (no caching: tests change MINIVESS_HOME per test)."""
    return Settings()
