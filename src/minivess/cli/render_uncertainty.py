"""Tables for the uncertainty results (calibration, conformal, ensemble, soup, gate), from their JSON dicts.

The same builders serve the CLI commands and the chat (``render_agent.result_view``), so a result looks the
same whichever way it was asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from rich.console import Group
from rich.table import Table

from minivess.cli.render import cell, key_value_table, records_table

CALIBRATION_COLUMNS: Final = ("ece", "mce", "brier", "nll", "n_voxels")
METRIC_COLUMNS: Final = ("dice", "cldice", "nsd", "hd95", "ece")


def calibration_view(result: Mapping[str, Any]) -> Group:
    """Before/after temperature scaling, per region; then the temperature and the diagram path."""
    rows = []
    for region in ("foreground", "volume"):
        for stage in ("before", "after"):
            values = result.get(stage, {}).get(region)
            if values:
                rows.append([region, stage, *(values.get(c) for c in CALIBRATION_COLUMNS)])
    table = records_table(
        f"calibration of run {result.get('run_id')} on {result.get('eval_split')}",
        ["region", "T", *CALIBRATION_COLUMNS],
        [[r[0], "1" if r[1] == "before" else f"{result.get('temperature', 1.0):.3f}", *r[2:]] for r in rows],
    )
    facts = key_value_table(
        "temperature scaling",
        {
            "temperature": cell(result.get("temperature")),
            "fitted on": f"{result.get('fit_split')} ({result.get('n_fit_voxels')} voxels)",
            "reliability diagram": result.get("reliability_diagram"),
        },
    )
    return Group(table, facts)


def conformal_view(result: Mapping[str, Any]) -> Group:
    """The threshold and what it promises; test FNR per volume."""
    facts = key_value_table(
        f"conformal FNR control, run {result.get('run_id')}",
        {
            "alpha": cell(result.get("alpha")),
            "threshold (mask = p >= t)": cell(result.get("threshold")),
            "calibration": f"{result.get('calibration_split')}, {result.get('n_calibration')} volumes",
            "calibration FNR": cell(result.get("calibration_fnr")),
            "test FNR (mean)": cell(result.get("test_fnr_mean")),
            "guarantee": result.get("guarantee"),
        },
    )
    per_volume = result.get("test_fnr_per_volume") or {}
    table = records_table("test FNR per volume", ["volume", "fnr"], sorted(per_volume.items()))
    return Group(facts, table) if per_volume else Group(facts)


def ensemble_view(result: Mapping[str, Any]) -> Group:
    """Members, then the ensemble against its best member on the test split."""
    members = records_table(
        f"ensemble run {result.get('run_id')} ({result.get('strategy')})",
        ["run_id", "family", "weight", "val_dice"],
        [[m.get("run_id"), m.get("family"), m.get("weight"), m.get("val_dice")] for m in result.get("members", [])],
    )
    test, best = result.get("test", {}), result.get("best_member_test", {})
    compare = records_table(
        "test split",
        ["model", *METRIC_COLUMNS],
        [
            ["ensemble", *(test.get(c) for c in METRIC_COLUMNS)],
            [f"best member {str(result.get('best_member', ''))[:8]}", *(best.get(c) for c in METRIC_COLUMNS)],
        ],
    )
    maps = key_value_table("uncertainty maps", {"variance + entropy (NIfTI)": result.get("uncertainty_maps")})
    return Group(members, compare, maps)


def soup_view(result: Mapping[str, Any]) -> Group:
    facts = key_value_table(
        f"greedy soup run {result.get('run_id')}",
        {
            "source run": result.get("source_run"),
            "epochs tried (best first)": ", ".join(str(e) for e in result.get("ingredients", [])),
            "epochs kept": ", ".join(str(e) for e in result.get("kept", [])),
            "val dice, best epoch": cell(result.get("val_dice_best_ingredient")),
            "val dice, soup": cell(result.get("val_dice_soup")),
        },
    )
    test = result.get("test", {})
    table = records_table("soup on the test split", list(METRIC_COLUMNS), [[test.get(c) for c in METRIC_COLUMNS]])
    return Group(facts, table)


def gate_view(result: Mapping[str, Any]) -> Group:
    verdict = "[green]PASS[/]" if result.get("passed") else "[red]FAIL[/]"
    facts = key_value_table(
        f"weight-quality gate, run {result.get('run_id')}",
        {
            "verdict": verdict,
            "alpha_weighted": cell(result.get("alpha_weighted")),
            "mean alpha": cell(result.get("mean_alpha")),
            "layers analysed": f"{result.get('layers_analysed')} of {result.get('layers_total')} "
            f"(WeightWatcher alone: {result.get('layers_native')})",
            "reasons": "; ".join(result.get("reasons", [])) or "-",
        },
    )
    layers = records_table(
        "layers",
        ["layer", "kind", "alpha", "analysed as"],
        [[r.get("name"), r.get("kind"), r.get("alpha"), r.get("analysed_as")] for r in result.get("layers", [])[:30]],
    )
    return Group(facts, layers)


VIEWS: Final[dict[str, Callable[[Mapping[str, Any]], Group]]] = {
    "calibrate_run": calibration_view,
    "conformal_calibrate": conformal_view,
    "build_ensemble": ensemble_view,
    "greedy_soup": soup_view,
    "quality_gate": gate_view,
}


def table_of(tool_name: str, result: Mapping[str, Any]) -> Group | Table | None:
    """The view of a tool's result, or None when the tool has no dedicated view."""
    view = VIEWS.get(tool_name)
    return view(result) if view else None
