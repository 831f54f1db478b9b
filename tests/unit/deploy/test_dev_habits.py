"""Developer habits: the GitHub workflow passes its schema, pre-commit's local hooks exist, secrets are caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return _run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", path)


def test_workflow_passes_the_github_schema_and_a_broken_one_does_not(tmp_path: Path) -> None:
    good = _check_workflow(WORKFLOW)
    assert good.returncode == 0, good.stdout + good.stderr
    broken = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    del broken["jobs"]["test"]["runs-on"]  # a job without a runner is invalid
    bad_file = tmp_path / "ci.yml"
    bad_file.write_text(yaml.safe_dump(broken), encoding="utf-8")
    bad = _check_workflow(bad_file)
    assert bad.returncode != 0 and "runs-on" in bad.stdout + bad.stderr


def test_workflow_runs_ci_and_posts_our_comment_with_cml() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["test"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    assert "bash .ci/run" in commands
    assert "minivess evals comment" in commands and "cml comment" in commands
    assert any(step.get("uses", "").startswith("iterative/setup-cml@") for step in steps)


def test_pre_commit_config_is_valid_and_every_local_hook_runs_a_venv_tool() -> None:
    config_path = ROOT / ".pre-commit-config.yaml"
    valid = _run(BIN / "pre-commit", "validate-config", config_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"])  # no hook repository to fetch
    assert {"ruff-check", "ruff-format", "mypy", "detect-secrets"} <= {hook["id"] for hook in hooks}
    for hook in hooks:
        tool = hook["entry"].split()[0]
        assert tool.startswith(".venv/bin/"), hook["id"]
        assert (BIN / Path(tool).name).is_file(), f"{hook['id']}: {tool} is not installed"


def test_detect_secrets_hook_flags_a_planted_key_and_passes_clean_code(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".secrets.baseline", tmp_path / ".secrets.baseline")
    clean = tmp_path / "clean.py"
    clean.write_text('RUN_ID = "run-42"\n', encoding="utf-8")
    leaky = tmp_path / "leaky.py"
    planted = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9"'  # pragma: allowlist secret
    leaky.write_text(planted + "\n", encoding="utf-8")
    assert _run("git", "init", "-q", ".", cwd=tmp_path).returncode == 0  # the hook reports against a git repo
    hook = [BIN / "detect-secrets-hook", "--baseline", ".secrets.baseline"]
    assert _run(*hook, clean.name, cwd=tmp_path).returncode == 0
    flagged = _run(*hook, leaky.name, cwd=tmp_path)
    assert flagged.returncode == 1 and "Location:    leaky.py:1" in flagged.stdout + flagged.stderr


def test_every_decision_record_is_indexed_and_has_context_decision_consequences() -> None:
    adr = ROOT / "docs" / "adr"
    records = sorted(path.name for path in adr.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert len(records) >= 10
    index = (adr / "README.md").read_text(encoding="utf-8")
    for name in records:
        text = (adr / name).read_text(encoding="utf-8")
        assert f"]({name})" in index, f"{name} is missing from docs/adr/README.md"
        assert all(part in text for part in ("**Context.**", "**Decision.**", "**Consequences.**")), name
