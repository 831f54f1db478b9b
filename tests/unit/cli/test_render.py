"""Rendering at 80 columns: run ids are never folded over lines, and answers keep `best:<family>` placeholders."""

from __future__ import annotations

import pytest
from rich.console import Console, RenderableType

from minivess.cli import render
from minivess.cli.render_agent import result_view

RUN_ID = "1681ac58d9e04b2f8a7c6e5d4b3a2f10"
COLUMNS = ["rank", "family", "run_id", "run_name", "best val_dice", "epoch", "last", "runs", "minutes"]
ROW = [1, "segresnet", RUN_ID, "segresnet-dice_ce-0007", 0.81234, 12, 0.8012, 3, 12.5]
LEADERBOARD = {
    "metric": "val_dice",
    "rows": [{"rank": 1, "group": "segresnet", "run": {"run_id": RUN_ID}, "best_value": 0.8, "best_step": 3}],
}


def _text(renderable: RenderableType, width: int) -> str:
    out = Console(width=width, record=True, color_system=None)
    out.print(renderable)
    return out.export_text()


def _no_fragments(text: str) -> bool:
    """No line holds a piece of the id without its start (what folding over five lines looked like)."""
    return not any(RUN_ID[8:14] in line for line in text.splitlines())


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_table_cuts_run_ids_to_a_valid_prefix_instead_of_folding_them(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    monkeypatch.setattr(render, "console", Console(width=width))
    text = _text(render.records_table("leaderboard", COLUMNS, [ROW]), width)
    assert RUN_ID[:8] in text and _no_fragments(text)
    assert "run ids cut to 8" in " ".join(text.split())


def test_a_table_that_fits_shows_full_run_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "console", Console(width=200))
    table = render.records_table("leaderboard", COLUMNS, [ROW])
    assert RUN_ID in _text(table, 200) and table.caption is None


def test_tool_results_in_ask_keep_each_run_id_on_one_line() -> None:
    narrow = _text(result_view("leaderboard", LEADERBOARD, Console(width=40)), 40)
    assert RUN_ID[:8] in narrow and _no_fragments(narrow)
    assert RUN_ID in _text(result_view("leaderboard", LEADERBOARD, Console(width=120)), 120)
    assert render.is_run_id_column("run.run_id") and render.is_run_id_column("best run")
    assert not render.is_run_id_column("run_name")


def test_markdown_answers_keep_placeholders_and_code() -> None:
    answer = "Use best:<family> or best:<family>:<metric>; e.g. `best:<family>` and\n\n```\nx < y\n```\n"
    text = _text(render.markdown(answer), 80)
    assert "best:<family> or best:<family>:<metric>" in text
    assert "best:<family> and" in text and "x < y" in text and "\\<" not in text
