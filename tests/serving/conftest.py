"""Fixtures for the serving tests: one small trained run, registered as the champion and exported to ONNX."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from minivess.pipelines.data.synthetic import get_preset, write_dataset
from tests.integration.conftest import tiny_overrides

SERVE_SHAPE = (48, 48, 16)


@dataclass(frozen=True)
class ServedRun:
    """A home with one finished run (champion of the default registered model, ONNX-exported)."""

    home: Path
    run_id: str
    data_dir: Path  # its dataset (raw/, seg/): volumes to upload

    def env(self) -> dict[str, str]:
        """The environment of a process that should use this home (service variables cleared)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MINIVESS_", "LANGFUSE_", "BRAINTRUST_", "LABEL_STUDIO_", "MLFLOW_"))
        }
        env.update({"MINIVESS_HOME": str(self.home), "MINIVESS_TRACING": "off", "PYTHONUNBUFFERED": "1"})
        return env

    def volumes(self) -> list[Path]:
        return sorted((self.data_dir / "raw").glob("*.nii*"))

    def masks(self) -> list[Path]:
        return sorted((self.data_dir / "seg").glob("*.nii*"))


@pytest.fixture(scope="session")
def served_run(tmp_path_factory: pytest.TempPathFactory) -> ServedRun:
    """Train a 2-epoch SegResNet on five 48×48×16 volumes, make it the champion, export it to ONNX (~40 s)."""
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.serving.onnx_run import export_run
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.naming import DEFAULT_REGISTERED_MODEL
    from minivess.pipelines.tracking.registry import register_run_model
    from minivess.pipelines.training import runs
    from minivess.settings import Settings

    root = tmp_path_factory.mktemp("served")
    data_dir = root / "data"
    write_dataset(data_dir, n=5, config=get_preset("default").model_copy(update={"shape": SERVE_SHAPE}), seed=0)
    settings = Settings(home=root / "home")
    cfg = load_experiment(None, tiny_overrides(data_dir, epochs=2))  # the integration tests' CPU-cheap run
    result = runs.train(cfg, settings)
    register_run_model(client_for(settings.tracking_uri), result.run_id, DEFAULT_REGISTERED_MODEL, alias="champion")
    export_run(result.run_id, settings)
    return ServedRun(settings.home_dir, result.run_id, data_dir)
