"""Canned analytics against answers computed independently from MLflow's own API."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics import (
    Warehouse,
    compare_runs,
    cost_frontier,
    failures,
    leaderboard,
    learning_curves,
    param_effect,
    plot_learning_curves,
)
from minivess.pipelines.tracking import naming
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo

FAMILY = f"tags.{naming.TAG_MODEL_FAMILY}"


def _mlflow_best(client: MlflowClient, run_id: str, metric: str) -> tuple[float, int] | None:
    """Best (value, first step) of a run's history, NaN ignored, lower-is-better per naming.py."""
    lower = metric in naming.LOWER_IS_BETTER
    history = [m for m in client.get_metric_history(run_id, metric) if not math.isnan(m.value)]
    if not history:
        return None
    best = min(history, key=lambda m: (m.value if lower else -m.value, m.step, m.timestamp))
    return best.value, best.step


def _mlflow_candidates(metric: str, status: str = "FINISHED", experiment: str | None = None) -> list[dict[str, Any]]:
    client = MlflowClient()
    if experiment is None:
        df = mlflow.search_runs(search_all_experiments=True, filter_string=f"attributes.status = '{status}'")
    else:
        df = mlflow.search_runs(experiment_names=[experiment], filter_string=f"attributes.status = '{status}'")
    out = []
    for _, row in df.iterrows():
        best = _mlflow_best(client, row.run_id, metric)
        if best is not None:
            out.append({"run_id": row.run_id, "family": row[FAMILY], "value": best[0], "step": best[1],
                        "start": row.start_time, "params": client.get_run(row.run_id).data.params})  # fmt: skip
    return out


def _rank_key(metric: str) -> Any:
    lower = metric in naming.LOWER_IS_BETTER
    return lambda c: (c["value"] if lower else -c["value"], c["start"], c["run_id"])


@pytest.mark.parametrize("metric", [naming.METRIC_VAL_DICE, naming.METRIC_VAL_CLDICE, naming.METRIC_VAL_HD95])
def test_leaderboard_by_family_matches_mlflow(store: StoreInfo, mlflow_uri: str, metric: str) -> None:
    board = leaderboard(metric, by="family")
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cand in _mlflow_candidates(metric):
        by_family[cand["family"]].append(cand)
    winners = sorted((min(c, key=_rank_key(metric)) for c in by_family.values()), key=_rank_key(metric))
    got = [(r.group, r.run.run_id, r.best_value, r.best_step, r.runs_in_group) for r in board.rows]
    expected = [(w["family"], w["run_id"], w["value"], w["step"], len(by_family[w["family"]])) for w in winners]
    assert got == expected
    assert board.direction == ("min" if metric == naming.METRIC_VAL_HD95 else "max")
    assert len(board.rows) == 3


def test_leaderboard_ungrouped_with_limit_and_experiment(store: StoreInfo, mlflow_uri: str) -> None:
    board = leaderboard(naming.METRIC_TRAIN_LOSS, by="none", limit=4, experiment=naming.DEFAULT_EXPERIMENT)
    cands = sorted(_mlflow_candidates(naming.METRIC_TRAIN_LOSS, experiment=naming.DEFAULT_EXPERIMENT),
                   key=_rank_key(naming.METRIC_TRAIN_LOSS))  # fmt: skip
    assert [(r.run.run_id, r.best_value, r.best_step) for r in board.rows] == [
        (c["run_id"], c["value"], c["step"]) for c in cands[:4]
    ]
    assert [r.rank for r in board.rows] == [1, 2, 3, 4]
    assert board.direction == "min"


def test_leaderboard_last_value_is_what_search_runs_shows(store: StoreInfo, mlflow_uri: str) -> None:
    board = leaderboard(naming.METRIC_VAL_DICE, by="none", limit=100)
    df = mlflow.search_runs(search_all_experiments=True).set_index("run_id")
    for row in board.rows:
        latest = df.loc[row.run.run_id, f"metrics.{naming.METRIC_VAL_DICE}"]
        assert row.last_value == latest
    assert {r.run.status for r in board.rows} == {"FINISHED"}


def test_leaderboard_can_include_other_statuses(store: StoreInfo) -> None:
    board = leaderboard(by="none", limit=100, statuses=["FINISHED", "FAILED", "RUNNING"])
    ids = {r.run.run_id for r in board.rows}
    assert set(store.failed) <= ids and set(store.running) <= ids
    with pytest.raises(AnalyticsError):
        leaderboard(limit=0)
    with pytest.raises(AnalyticsError, match="direction"):
        leaderboard(direction="max_value, 1; DROP TABLE runs --")  # type: ignore[arg-type]


def test_direction_override_ranks_by_the_minimum(store: StoreInfo, mlflow_uri: str) -> None:
    board = leaderboard(naming.METRIC_VAL_DICE, by="none", limit=1, direction="min")
    client = MlflowClient()
    df = mlflow.search_runs(search_all_experiments=True, filter_string="attributes.status = 'FINISHED'")
    lowest = min(
        (m.value, m.step, run_id)
        for run_id in df.run_id
        for m in client.get_metric_history(run_id, naming.METRIC_VAL_DICE)
        if not math.isnan(m.value)
    )
    assert (board.rows[0].best_value, board.rows[0].best_step, board.rows[0].run.run_id) == lowest
    assert board.direction == "min"


def test_compare_runs_matches_mlflow(store: StoreInfo, mlflow_uri: str) -> None:
    client = MlflowClient()
    ids = [store.finished[0], store.finished[4], store.finished[8]]
    result = compare_runs(ids, only_differences=True)
    assert [r.run_id for r in result.runs] == ids
    params = {i: client.get_run(i).data.params for i in ids}
    all_keys = sorted(set().union(*params.values()))
    diff_keys = [k for k in all_keys if len({params[i].get(k) for i in ids}) > 1]
    assert [p.key for p in result.params] == diff_keys
    for p in result.params:
        assert p.values == {i: params[i].get(p.key) for i in ids}
    metrics = {m.key: m for m in result.metrics}
    assert set(metrics) == set(client.get_run(ids[0]).data.metrics)
    for key, comparison in metrics.items():
        for i in ids:
            cell = comparison.cells[i]
            assert cell is not None
            assert (cell.best_value, cell.best_step) == _mlflow_best(client, i, key)
            assert cell.last_value == client.get_run(i).data.metrics[key]
        bests = {i: _mlflow_best(client, i, key) for i in ids}
        pick = min if key in naming.LOWER_IS_BETTER else max
        assert comparison.best_run == pick(ids, key=lambda i: bests[i][0])  # type: ignore[index]
    everything = compare_runs(ids[:2])
    assert [p.key for p in everything.params] == sorted(set(params[ids[0]]) | set(params[ids[1]]))


def test_compare_resolves_names_and_prefixes(store: StoreInfo) -> None:
    name = MlflowClient(store.uri).get_run(store.finished[1]).info.run_name
    result = compare_runs([name, store.finished[2][:10]])
    assert [r.run_id for r in result.runs] == [store.finished[1], store.finished[2]]
    with pytest.raises(AnalyticsError, match="matches no run"):
        compare_runs([store.finished[0], "no-such-run"])
    with pytest.raises(AnalyticsError, match="at least one"):
        compare_runs([])
    single = compare_runs([store.failed[0]])  # one run: its details, including the error tag
    assert single.runs[0].error == "RuntimeError: CUDA out of memory"
    assert single.params and not any(p.differs for p in single.params)


def test_learning_curves_match_history_and_plot(store: StoreInfo, tmp_path: Path) -> None:
    client = MlflowClient(store.uri)
    ids = store.finished[:2]
    metrics = [naming.METRIC_VAL_DICE, naming.METRIC_TRAIN_LOSS]
    curves = learning_curves(ids, metrics)
    assert len(curves.series) == 4
    for series in curves.series:
        history = sorted(client.get_metric_history(series.run_id, series.key), key=lambda m: m.step)
        assert series.steps == [m.step for m in history]
        assert series.values == [m.value for m in history]
    png = plot_learning_curves(curves, tmp_path / "out" / "curves.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    empty = learning_curves(ids, ["no_such_metric"])
    with pytest.raises(AnalyticsError, match="No history"):
        plot_learning_curves(empty, tmp_path / "x.png")


def test_param_effect_matches_independent_stats(store: StoreInfo, mlflow_uri: str) -> None:
    effect = param_effect("optim.lr", naming.METRIC_VAL_CLDICE)
    groups: dict[str | None, list[float]] = defaultdict(list)
    for cand in _mlflow_candidates(naming.METRIC_VAL_CLDICE):
        groups[cand["params"].get("optim.lr")].append(cand["value"])
    assert [g.value for g in effect.groups] == sorted(groups, key=lambda v: float(v))  # type: ignore[arg-type]
    for g in effect.groups:
        values = groups[g.value]
        assert g.n == len(values)
        assert g.mean == pytest.approx(statistics.fmean(values))
        assert g.std == (pytest.approx(statistics.stdev(values)) if len(values) > 1 else None)
        assert (g.min, g.max) == (min(values), max(values))


def test_failures_grouped_by_error_type(store: StoreInfo, mlflow_uri: str) -> None:
    summary = failures()
    df = mlflow.search_runs(search_all_experiments=True, filter_string="attributes.status = 'FAILED'")
    expected: dict[str, set[str]] = defaultdict(set)
    for _, row in df.iterrows():
        expected[row[f"tags.{naming.TAG_ERROR}"].split(":")[0]].add(row.run_id)
    assert summary.total == len(df) == 3
    assert {g.error_type: {r.run.run_id for r in g.runs} for g in summary.groups} == expected
    assert [g.error_type for g in summary.groups] == ["RuntimeError", "ValueError"]  # most frequent first
    run = summary.groups[0].runs[0]
    assert run.params == MlflowClient().get_run(run.run.run_id).data.params
    assert run.message == "CUDA out of memory"


def test_cost_frontier_is_pareto_optimal(store: StoreInfo, mlflow_uri: str) -> None:
    frontier = cost_frontier(naming.METRIC_VAL_DICE)
    df = mlflow.search_runs(search_all_experiments=True, filter_string="attributes.status = 'FINISHED'")
    client = MlflowClient()
    points = {}
    for _, row in df.iterrows():
        best = _mlflow_best(client, row.run_id, naming.METRIC_VAL_DICE)
        run = client.get_run(row.run_id).info
        points[row.run_id] = ((run.end_time - run.start_time) / 60_000, best[0])  # type: ignore[index]

    def dominated(rid: str) -> bool:
        cost, value = points[rid]
        return any(c <= cost and v >= value and (c < cost or v > value) for o, (c, v) in points.items() if o != rid)

    assert {p.run.run_id for p in frontier.points} == set(points)
    assert {p.run.run_id for p in frontier.pareto} == {r for r in points if not dominated(r)}
    costs = [p.cost_min for p in frontier.points]
    assert costs == sorted(costs)
    for p in frontier.points:
        assert (p.cost_min, p.value) == pytest.approx(points[p.run.run_id])


def test_client_source_leaderboard_equals_sqlite_source(store: StoreInfo, tmp_path: Path) -> None:
    direct = leaderboard(naming.METRIC_VAL_DICE, warehouse=Warehouse(path=tmp_path / "a.duckdb"))
    client = leaderboard(naming.METRIC_VAL_DICE, warehouse=Warehouse(path=tmp_path / "b.duckdb", source="client"))
    assert direct.rows == client.rows and direct.rows
