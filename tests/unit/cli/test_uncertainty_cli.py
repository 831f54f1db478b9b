"""calibrate, conformal, ensemble, soup, gate, predict --risk-fnr: bad input is one clear error, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.errors import ConfigError

runner = CliRunner()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["conformal", "abcdef12", "--alpha", "0"], "between 0 and 1"),
        (["conformal", "abcdef12", "--alpha", "1.5"], "between 0 and 1"),
        (["ensemble", "abcdef12", "abcdef34", "--strategy", "median"], "choose one of mean, vote, weighted"),
        (["ensemble"], "either member run ids or --top"),
        (["ensemble", "abcdef12", "--top", "3"], "either member run ids or --top"),
        (["ensemble", "--top", "11"], "2 to 10 members"),
        (["soup", "abcdef12", "abcdef34"], "trained from scratch"),
        (["predict", "abcdef12", "in.nii.gz", "-o", "out.nii.gz", "--risk-fnr", "-0.1"], "between 0 and 1"),
    ],
)
def test_bad_input_raises_one_clear_error_before_any_work(
    argv: list[str], message: str, minivess_home: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, argv)
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception)
    assert not (minivess_home / "mlflow.db").exists()  # refused before the tracking store was touched
    assert not (tmp_path / "out.nii.gz").exists()
