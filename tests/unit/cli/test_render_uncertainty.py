"""Uncertainty results render as tables in the chat (render_agent.result_view) and the CLI."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from minivess.cli.render_agent import result_view

RUN = "0123456789abcdef0123456789abcdef"
NUMBERS = {"ece": 0.1234, "mce": 0.3, "brier": 0.05, "nll": 0.2, "n_voxels": 1000}
RESULTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "calibrate_run": (
        {
            "run_id": RUN,
            "temperature": 1.7,
            "fit_split": "val",
            "eval_split": "test",
            "n_fit_voxels": 5000,
            "before": {"foreground": NUMBERS, "volume": NUMBERS},
            "after": {"foreground": {**NUMBERS, "ece": 0.0456}, "volume": NUMBERS},
            "reliability_diagram": "/h/runs/x/calibration/reliability.png",
        },
        ["0.1234", "0.0456", "1.700", "reliability.png", "foreground"],
    ),
    "conformal_calibrate": (
        {
            "run_id": RUN,
            "alpha": 0.05,
            "threshold": 0.2,
            "calibration_split": "val",
            "n_calibration": 30,
            "calibration_fnr": 0.03,
            "test_fnr_mean": 0.04,
            "test_fnr_per_volume": {"synth_007": 0.07},
            "guarantee": "on average",
        },
        ["0.2", "synth_007", "0.07", "on average"],
    ),
    "build_ensemble": (
        {
            "run_id": RUN,
            "strategy": "mean",
            "members": [{"run_id": RUN, "family": "segresnet", "weight": 0.5, "val_dice": 0.8}],
            "test": {"dice": 0.81, "cldice": 0.7, "nsd": 0.6, "hd95": 3.0, "ece": 0.02},
            "best_member": RUN,
            "best_member_test": {"dice": 0.79},
            "uncertainty_maps": "/h/unc",
        },
        ["ensemble", "0.81", "0.79", "/h/unc", RUN],
    ),
    "greedy_soup": (
        {
            "run_id": RUN,
            "source_run": RUN,
            "ingredients": [3, 1, 2],
            "kept": [3, 1],
            "val_dice_best_ingredient": 0.7,
            "val_dice_soup": 0.72,
            "test": {"dice": 0.69},
        },
        ["3, 1, 2", "3, 1", "0.72", "0.69"],
    ),
    "quality_gate": (
        {
            "run_id": RUN,
            "passed": False,
            "reasons": ["3 of 10 layers outside"],
            "alpha_weighted": 4.2,
            "mean_alpha": 7.1,
            "layers_analysed": 10,
            "layers_total": 11,
            "layers_native": 0,
            "layers": [{"name": "conv0", "kind": "Conv3d", "alpha": 7.9, "analysed_as": "conv3d-as-2d"}],
        },
        ["FAIL", "10 of 11", "alone: 0", "conv3d-as-2d", "3 of 10 layers outside"],
    ),
}


@pytest.mark.parametrize("tool", sorted(RESULTS))
def test_result_renders_its_numbers(tool: str) -> None:
    result, expected = RESULTS[tool]
    console = Console(width=160, record=True)
    console.print(result_view(tool, result, console))
    text = console.export_text()
    for fragment in expected:
        assert fragment in text, (tool, fragment, text)
