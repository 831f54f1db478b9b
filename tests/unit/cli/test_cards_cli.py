"""`minivess card` and `minivess data card`: files written, a short summary, bad references one error (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.errors import DataError, MinivessError
from tests.helpers import write_tube_dataset

runner = CliRunner()


def test_data_card_of_a_folder(minivess_home: Path, tmp_path: Path) -> None:
    folder = write_tube_dataset(tmp_path / "tubes", n=3)
    result = runner.invoke(app, ["data", "card", str(folder)])
    assert result.exit_code == 0, result.output
    assert "data card of tubes" in result.output and "3 volume(s)" in result.output
    cards = list((minivess_home / "cards").glob("data-tubes-*/data_card.html"))
    assert len(cards) == 1 and "<table>" in cards[0].read_text()
    shown = runner.invoke(app, ["data", "card", str(folder), "--json", "--out", str(tmp_path / "out")])
    facts = json.loads(shown.output)
    assert facts["volumes"] == 3 and not facts["synthetic"] and (tmp_path / "out" / "data_card.md").is_file()
    assert not any(p.name.startswith("data_card") for p in folder.iterdir())


def test_bad_references_are_one_error(minivess_home: Path) -> None:
    assert isinstance(runner.invoke(app, ["data", "card", "nope"]).exception, DataError)
    for ref in ("champion", "abcdef12", "foo@3"):
        result = runner.invoke(app, ["card", ref])
        assert isinstance(result.exception, MinivessError), (ref, result.output)
    assert "promote the last run to champion" in str(runner.invoke(app, ["card"]).exception)


def test_a_bad_reference_exits_2_with_one_message(minivess_home: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "minivess", "card", "nosuchrun"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "no run 'nosuchrun'" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
