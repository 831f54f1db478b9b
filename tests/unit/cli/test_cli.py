"""The CLI: --help everywhere, settings masking, and bad input → one clear line, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from minivess.cli.app import app

runner = CliRunner()


def _all_command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, prefix: list[str]) -> None:
        paths.append(prefix)
        # Typer >= 0.26 vendors Click, so its groups are not click.Group: a group is what has sub-commands.
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    assert len(paths) > 40, paths  # every group's commands, not the root alone
    return paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "minivess")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output.strip().splitlines()) > 3


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "minivess", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("minivess ")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["data", "synthx"], "No such command 'synthx'. Did you mean 'synth'?"),
        (["train", "--bogus"], "No such option: --bogus"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_usage_errors_are_click_messages_not_tracebacks(argv: list[str], expected: str, minivess_home: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "minivess", *argv], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert expected in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-very-secret")
    monkeypatch.setenv("MINIVESS_BRAINTRUST_API_KEY", "bt-also-secret")
    result = runner.invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0
    assert "very-secret" not in result.output and "also-secret" not in result.output
    assert '"langfuse_secret_key": "********"' in result.output
    assert '"llm_model": "minivess/planner"' in result.output


def test_config_show_uses_home(minivess_home: Path) -> None:
    result = runner.invoke(app, ["config", "show", "--json"])
    assert str(minivess_home) in result.output
    assert f"sqlite:///{minivess_home}/mlflow.db" in result.output


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.name=unet", "unknown model 'unet'"),
        ("optim.lr=-0.1", "optim.lr: Input should be greater than 0"),
        ("trainer.epoks=2", "Did you mean 'trainer.epochs'"),
    ],
)
def test_bad_config_is_one_line_and_writes_nothing(override: str, expected: str, minivess_home: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "minivess", "train", "--set", override],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert expected in " ".join(out.stderr.split())
    assert not (minivess_home / "mlflow.db").exists()
    assert not (minivess_home / "runs").exists()


def test_swinunetr_patch_must_be_divisible_by_32(minivess_home: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "minivess",
            "train",
            "--set",
            "model.name=swinunetr",
            "--set",
            "data.patch_size=[64,64,16]",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "32" in result.stderr
    assert not (minivess_home / "mlflow.db").exists()


def test_loading_the_cli_imports_no_settings_or_heavy_libraries() -> None:
    """`minivess --help` stays fast: settings, pydantic, DuckDB, torch and tracing load when a command runs."""
    heavy = ["minivess.settings", "pydantic_settings", "pydantic", "duckdb", "torch", "langfuse", "langgraph"]
    code = f"import sys, minivess.cli.app; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_process_freezes_its_objects_after_the_other_exit_handlers(minivess_home: Path) -> None:
    """`main` registers gc.freeze as an exit handler, so the interpreter's final collections skip what the command
    loaded (benchmarks/cli_latency.py; ~0.3 s after `ask`); a handler registered before it runs after it."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "print('frozen before:', gc.get_freeze_count() > 0)\n"
        "sys.argv = ['minivess', 'runs', 'leaderboard']\n"
        "from minivess.cli.app import main\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "frozen before: False" in out.stdout and "frozen at exit: True" in out.stdout
