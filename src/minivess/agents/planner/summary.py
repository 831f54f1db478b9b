"""One-line summaries of tool results with the numbers that matter (run ids, best metric, top rows)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from minivess.agents.planner.models import ToolOutcome

logger = logging.getLogger(__name__)

Data = dict[str, Any]
_MAX_ROWS: Final = 5
_KEY_PARAMS: Final = ("model.name", "optim.lr", "loss.name", "trainer.batch_size", "data.patch_size")


def _dict(value: Any) -> Data:
    return value if isinstance(value, dict) else {}


def num(value: Any) -> str:
    """A metric value for humans: 4 decimals below 10, 1 decimal above, ints as they are."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"


def _rid(value: Any, short: bool) -> str:
    text = str(value or "?")
    return f"{text[:8]}…" if short and len(text) > 8 else text


def _train(d: Data, short: bool) -> str:
    best = d.get("best_metric")
    metric = d.get("metric") or "val_dice"
    score = f"best {metric} {num(best)} at epoch {d.get('best_epoch')}" if best is not None else "no validation score"
    head = f"Trained {d.get('model', 'a model')} (loss {d.get('loss', '?')}) — run {_rid(d.get('run_id'), short)}"
    tail = f"{d.get('epochs_completed', '?')} epoch(s), status {d.get('status', '?')}"
    if d.get("stop_reason"):
        tail += f", stopped: {d['stop_reason']}"
    return f"{head}: {score}; {tail}."


def _evaluate(d: Data, short: bool) -> str:
    summary = _dict(d.get("summary"))
    scores = ", ".join(f"{k} {num(v)}" for k, v in list(summary.items())[:6]) or "no scores"
    volumes = d.get("per_volume")
    count = f" over {len(volumes)} volume(s)" if isinstance(volumes, dict) else ""
    return f"Evaluated run {_rid(d.get('run_id'), short)} on {d.get('split', '?')}{count}: {scores}."


def _predict(d: Data, short: bool) -> str:
    fraction = d.get("vessel_fraction")
    share = f" (vessel fraction {fraction:.2%})" if isinstance(fraction, int | float) else ""
    extra = f"; conformal threshold {num(d['threshold'])}" if isinstance(d.get("threshold"), int | float) else ""
    extra += f"; uncertainty map {d['uncertainty_path']}" if d.get("uncertainty_path") else ""
    warnings = d.get("drift_warnings") or []
    drift = f" Drift warning: {'; '.join(warnings)}." if warnings else ""
    return f"Segmented with run {_rid(d.get('run_id'), short)} → {d.get('output_path')}{share}{extra}.{drift}"


def _promote(d: Data, short: bool) -> str:
    return (
        f"Registered run {_rid(d.get('run_id'), short)} as {d.get('model_name')} version {d.get('version')} "
        f"and pointed '{d.get('alias')}' at it."
    )


def _synth(d: Data, short: bool) -> str:
    shape = "×".join(str(v) for v in d.get("shape") or []) or "?"
    return f"Generated {d.get('n')} synthetic volume(s) of {shape} (preset {d.get('preset')}) at {d.get('path')}."


def _dataset(d: Data, short: bool) -> str:
    volumes = [v for v in d.get("volumes") or [] if isinstance(v, dict)]
    fractions = [v["vessel_fraction"] for v in volumes if isinstance(v.get("vessel_fraction"), int | float)]
    shapes = sorted({"×".join(str(s) for s in v.get("shape") or []) for v in volumes})
    extra = f"; shapes {', '.join(shapes[:3])}" if shapes else ""
    if fractions:
        extra += f"; mean vessel fraction {sum(fractions) / len(fractions):.2%}"
    return f"Dataset {d.get('path')} (version {d.get('version')}): {d.get('n_volumes')} volume(s){extra}."


def _leaderboard(d: Data, short: bool) -> str:
    rows = [r for r in d.get("rows") or [] if isinstance(r, dict)]
    if not rows:
        return f"The leaderboard by {d.get('metric')} is empty: no finished runs logged that metric yet."
    shown = []
    for row in rows[:_MAX_ROWS]:
        run = _dict(row.get("run"))
        label = row.get("group") or run.get("model_family") or "run"
        shown.append(
            f"{row.get('rank')}. {label} run {_rid(run.get('run_id'), short)} — {num(row.get('best_value'))} "
            f"(epoch {row.get('best_step')})"
        )
    scope = "best run per family" if d.get("by") == "family" else "all runs"
    more = f" (+{len(rows) - _MAX_ROWS} more)" if len(rows) > _MAX_ROWS else ""
    return f"Leaderboard by {d.get('metric')} ({scope}): " + "; ".join(shown) + more + "."


def _comparison(d: Data, short: bool) -> str:
    runs = [r for r in d.get("runs") or [] if isinstance(r, dict)]
    names = ", ".join(
        f"{_rid(r.get('run_id'), short)} ({r.get('model_family') or '?'}, {r.get('status')})" for r in runs
    )
    parts = [f"Runs {names}" if len(runs) > 1 else f"Run {names}"]
    for metric in [m for m in d.get("metrics") or [] if isinstance(m, dict)]:
        if not str(metric.get("key", "")).startswith(("val_", "test_")):
            continue
        cells = _dict(metric.get("cells"))
        values = ", ".join(
            f"{_rid(k, True)} {num(c.get('best_value'))}" for k, c in cells.items() if isinstance(c, dict)
        )
        best = f" (best {_rid(metric.get('best_run'), True)})" if len(runs) > 1 and metric.get("best_run") else ""
        parts.append(f"{metric.get('key')}: {values}{best}")
    diffs = [p for p in d.get("params") or [] if isinstance(p, dict) and p.get("differs")]
    if diffs and len(runs) > 1:
        parts.append("differing params: " + ", ".join(str(p.get("key")) for p in diffs[:6]))
    return "; ".join(parts) + "."


def _curves(d: Data, short: bool) -> str:
    curves = _dict(d.get("curves"))
    series = [s for s in curves.get("series") or [] if isinstance(s, dict)]
    finals = [
        f"{_rid(s.get('run_id'), True)} {s.get('key')} last {num(s['values'][-1])}"
        for s in series
        if isinstance(s.get("values"), list) and s["values"] and s["values"][-1] is not None
    ]
    detail = f" ({'; '.join(finals[:6])})" if finals else ""
    return f"Plotted learning curves to {d.get('png')}{detail}."


def _failed_params(runs: list[Data]) -> str:
    """Key settings of a few failed runs (answers "which learning rates failed?")."""
    shown = []
    for run in runs[:3]:
        params = _dict(run.get("params"))
        picked = [f"{k}={params[k]}" for k in _KEY_PARAMS if params.get(k) is not None]
        if picked:
            shown.append(" ".join(picked))
    return f" [{'; '.join(shown)}]" if shown else ""


def _failures(d: Data, short: bool) -> str:
    groups = [g for g in d.get("groups") or [] if isinstance(g, dict)]
    if not d.get("total"):
        return "No failed runs."
    lines = []
    for group in groups[:_MAX_ROWS]:
        runs = [r for r in group.get("runs") or [] if isinstance(r, dict)]
        message = next((str(r.get("message")) for r in runs if r.get("message")), "")
        example = f" (e.g. {message[:120]})" if message else ""
        lines.append(f"{group.get('error_type')} ×{group.get('count')}{example}{_failed_params(runs)}")
    return f"{d.get('total')} failed run(s): " + "; ".join(lines) + "."


def _effect(d: Data, short: bool) -> str:
    groups = [g for g in d.get("groups") or [] if isinstance(g, dict)]
    if not groups:
        return f"No finished runs with {d.get('param')} and {d.get('metric')} to compare yet."
    best_key = "min" if d.get("direction") == "min" else "max"
    shown = "; ".join(
        f"{g.get('value')}: mean {num(g.get('mean'))} (n={g.get('n')}, best {num(g.get(best_key))})"
        for g in groups[:_MAX_ROWS]
    )
    means = [g for g in groups if isinstance(g.get("mean"), int | float)]
    verdict = ""
    if len(means) > 1:
        pick = min if d.get("direction") == "min" else max
        top = pick(means, key=lambda g: float(g["mean"]))
        verdict = f" Best on average: {top.get('value')} ({num(top.get('mean'))}, n={top.get('n')})."
    return f"Effect of {d.get('param')} on best {d.get('metric')}: {shown}.{verdict}"


def _sql(d: Data, short: bool) -> str:
    columns = [str(c) for c in d.get("columns") or []]
    rows = [r for r in d.get("rows") or [] if isinstance(r, list)]
    if not rows:
        return "The query returned no rows."
    shown = "; ".join(
        ", ".join(f"{c}={num(v)}" for c, v in zip(columns, row, strict=False)) for row in rows[:_MAX_ROWS]
    )
    more = f" (+{len(rows) - _MAX_ROWS} more rows)" if len(rows) > _MAX_ROWS else ""
    return f"Query result ({len(rows)} row(s)): {shown}{more}."


def _warehouse(d: Data, short: bool) -> str:
    tables = [t for t in d.get("tables") or [] if isinstance(t, dict)]
    return (
        "Warehouse tables: "
        + ", ".join(
            f"{t.get('name')} ({', '.join(str(c.get('name')) for c in t.get('columns') or [] if isinstance(c, dict))})"
            for t in tables
        )
        + "."
    )


def _calibration(d: Data, short: bool) -> str:
    before, after = _dict(_dict(d.get("before")).get("foreground")), _dict(_dict(d.get("after")).get("foreground"))
    ece = f"; vessel-region ECE {num(before.get('ece'))} → {num(after.get('ece'))}" if before and after else ""
    temperature = d.get("temperature")
    meaning = ""
    if isinstance(temperature, int | float):
        if temperature > 1.0:
            meaning = " (> 1: it was over-confident; probabilities softened)"
        elif temperature < 1.0:
            meaning = " (< 1: its probabilities were too soft; sharpened)"
        else:
            meaning = " (1: left as it was)"
    return (
        f"Calibrated run {_rid(d.get('run_id'), short)}: temperature {num(temperature)}{meaning}{ece}; "
        f"reliability diagram {d.get('reliability_diagram')}."
    )


def _conformal(d: Data, short: bool) -> str:
    test = d.get("test_fnr_mean")
    checked = f"; test FNR {num(test)}" if isinstance(test, int | float) else ""
    return (
        f"Conformal threshold for run {_rid(d.get('run_id'), short)} at alpha {num(d.get('alpha'))}: "
        f"p >= {num(d.get('threshold'))} (calibration FNR {num(d.get('calibration_fnr'))} on "
        f"{d.get('n_calibration')} volume(s){checked}). {d.get('guarantee') or ''}".rstrip()
    )


def _ensemble(d: Data, short: bool) -> str:
    members = [m for m in d.get("members") or [] if isinstance(m, dict)]
    names = ", ".join(f"{_rid(m.get('run_id'), True)} ({m.get('family')})" for m in members)
    test, best = _dict(d.get("test")), _dict(d.get("best_member_test"))
    versus = f"; test dice {num(test.get('dice'))} vs best member {num(best.get('dice'))}" if "dice" in test else ""
    return f"Built a {d.get('strategy')} ensemble — run {_rid(d.get('run_id'), short)} — of {names}{versus}."


def _soup(d: Data, short: bool) -> str:
    kept = ", ".join(str(e) for e in d.get("kept") or [])
    return (
        f"Greedy soup of run {_rid(d.get('source_run'), short)} — run {_rid(d.get('run_id'), short)}: kept epochs "
        f"{kept or '?'}; val dice {num(d.get('val_dice_soup'))} vs best ingredient "
        f"{num(d.get('val_dice_best_ingredient'))}."
    )


def _gate(d: Data, short: bool) -> str:
    verdict = "passed" if d.get("passed") else "failed"
    reasons = "; ".join(str(r) for r in d.get("reasons") or [])
    return (
        f"Weight quality gate {verdict} for run {_rid(d.get('run_id'), short)} (weighted alpha "
        f"{num(d.get('alpha_weighted'))}, {d.get('layers_analysed')}/{d.get('layers_total')} layers analysed)"
        + (f": {reasons}." if reasons else ".")
    )


def _label_issues(d: Data, short: bool) -> str:
    rows = [r for r in d.get("top") or [] if isinstance(r, dict)]
    shown = "; ".join(
        f"{r.get('rank')}. {r.get('volume_id')} axis {r.get('axis')} slice {r.get('slice_index')} "
        f"(score {num(r.get('score'))})"
        for r in rows[:_MAX_ROWS]
    )
    folds = len(d.get("fold_runs") or [])
    head = (
        f"Scored {d.get('slices_scored')} slice(s) of {d.get('dataset_dir')} (version {d.get('dataset_version')}) "
        f"with {folds} fold model(s)"
    )
    worst = f"; most suspicious (lower = more likely mislabelled): {shown}" if shown else ""
    more = f" (+{len(rows) - _MAX_ROWS} more listed)" if len(rows) > _MAX_ROWS else ""
    return f"{head}{worst}{more}. Table: {d.get('table')}."


def _queued(d: Data, short: bool) -> str:
    return (
        f"Queued {d.get('queued')} slice(s) for review ({d.get('already_queued')} already queued) in Label Studio "
        f"project '{d.get('project_title')}', {d.get('total_tasks')} task(s) in all: {d.get('url')}."
    )


def _review_status(d: Data, short: bool) -> str:
    imported = ", ".join(str(v) for v in d.get("imported_versions") or [])
    return (
        f"Review of '{d.get('project_title')}' (version {d.get('dataset_version')}): {d.get('reviewed')} reviewed, "
        f"{d.get('skipped')} skipped, {d.get('pending')} pending of {d.get('tasks')} task(s)"
        + (f"; imported as {imported}." if imported else ".")
    )


def _imported(d: Data, short: bool) -> str:
    if not d.get("dataset_dir"):
        return (
            f"No finished reviews to import yet for {d.get('parent_dir')} (version {d.get('parent_version')}): "
            "nothing changed."
        )
    again = " (already imported before)" if d.get("already_imported") else ""
    return (
        f"Imported {d.get('reviews_applied')} of {d.get('reviews_fetched')} review(s) ({d.get('voxels_changed')} "
        f"voxel(s) changed) as dataset version {d.get('dataset_version')} at {d.get('dataset_dir')}{again}, from "
        f"{d.get('parent_dir')} (version {d.get('parent_version')})."
    )


def _search(d: Data, short: bool) -> str:
    best = d.get("best_val_cldice")
    config = d.get("best_config") or {}
    shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in config.items())
    head = (
        f"Search {d.get('search_id')} {d.get('status')}: {d.get('trials_finished')} of {d.get('trials_planned')} "
        f"trial(s) finished, {d.get('trials_failed')} failed, {d.get('minutes_spent')} of {d.get('budget_minutes')} "
        "minute(s) spent"
    )
    if best is None:
        return head + "; no scored trial yet."
    promotion = d.get("promotion") or {}
    decision = f" Decision: {promotion.get('outcome')} ({promotion.get('reason')})." if promotion else ""
    return (
        f"{head}; best run {d.get('best_run_id')} val clDice {best:.3f} ({shown}).{decision} Report: {d.get('report')}."
    )


def _model_card(d: Data, short: bool) -> str:
    subject = f"{d.get('registered_model')} v{d.get('version')}" if d.get("version") else f"run {d.get('run_id')}"
    facts = [f"test Dice {num(d.get('test_dice'))}" if d.get("test_dice") is not None else "not evaluated"]
    temperature = d.get("temperature")
    facts.append(f"temperature {num(temperature)}" if temperature is not None else "not calibrated")
    facts.append(f"{len(d.get('approvals') or [])} audit entr{'y' if len(d.get('approvals') or []) == 1 else 'ies'}")
    missing = f" Absent sources: {', '.join(d['missing'])}." if d.get("missing") and not short else ""
    return f"Model card of {subject} ({'; '.join(facts)}): {d.get('html')}.{missing}"


def _drift(d: Data, short: bool) -> str:
    sides = f"{d.get('current')} ({d.get('n_current')} volumes) vs {d.get('reference')} ({d.get('n_reference')})"
    report = f" Report: {d['report_html']}." if d.get("report_html") else ""
    if d.get("drifted"):
        return f"Drift in {', '.join(d.get('drifted_features') or [])}: {sides}.{report}"
    if not d.get("sufficient"):
        return f"No verdict: too few volumes to test for drift, {sides}.{report}"
    return f"No drift detected: {sides}.{report}"


_FORMATS: Final[dict[str, Callable[[Data, bool], str]]] = {
    "train_model": _train, "evaluate_run": _evaluate, "predict_volume": _predict, "promote_model": _promote,
    "synthesize_data": _synth, "dataset_info": _dataset, "leaderboard": _leaderboard, "compare_runs": _comparison,
    "get_run": _comparison, "learning_curves": _curves, "failure_summary": _failures, "param_effect": _effect,
    "query_runs": _sql, "describe_warehouse": _warehouse, "calibrate_run": _calibration,
    "conformal_calibrate": _conformal, "build_ensemble": _ensemble, "greedy_soup": _soup, "quality_gate": _gate,
    "find_label_issues": _label_issues, "queue_for_review": _queued, "review_status": _review_status,
    "import_reviews": _imported, "start_search": _search, "search_status": _search,
    "model_card": _model_card, "check_drift": _drift,
}  # fmt: skip


def summarize(outcome: ToolOutcome, *, short: bool = False) -> str:
    """One line for a tool answer; unknown shapes fall back to the (truncated) raw text."""
    if outcome.status == "error":
        return f"{outcome.name} failed: {outcome.text}"
    if outcome.status == "rejected":
        return f"{outcome.name} was not approved" + (f": {outcome.text}" if outcome.text else ".")
    format_ = _FORMATS.get(outcome.name)
    if format_ is not None and isinstance(outcome.data, dict):
        try:
            return format_(outcome.data, short)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            logger.debug("could not summarise %s result", outcome.name, exc_info=True)
    raw = outcome.text if len(outcome.text) <= 300 else outcome.text[:297] + "..."
    return f"{outcome.name} returned: {raw}"
