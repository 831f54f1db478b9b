"""Result-set comparison: order and column names do not matter, values and row counts do."""

from __future__ import annotations

from minivess.evals.resultsets import matching_columns, normalise, rows_from_result

EXPECTED = [["segresnet", 4.0], ["swinunetr", 7.0], ["dynunet", 3.0]]


def test_rows_in_any_order_with_extra_columns_match() -> None:
    got = [
        {"n_runs": 3, "model_family": "dynunet", "note": "x"},
        {"n_runs": 7, "model_family": "swinunetr", "note": "y"},
        {"n_runs": 4, "model_family": "segresnet", "note": "z"},
    ]
    assert matching_columns(EXPECTED, got) == ["model_family", "n_runs"]


def test_pairs_must_stay_together() -> None:
    """Each column alone has the right values, but the rows pair them wrongly."""
    got = [{"f": "segresnet", "n": 7}, {"f": "swinunetr", "n": 4}, {"f": "dynunet", "n": 3}]
    assert matching_columns(EXPECTED, got) is None


def test_wrong_values_or_counts_do_not_match() -> None:
    assert matching_columns(EXPECTED, [{"f": "segresnet", "n": 4}, {"f": "swinunetr", "n": 7}]) is None
    got = [{"f": "segresnet", "n": 4}, {"f": "swinunetr", "n": 7}, {"f": "dynunet", "n": 30}]
    assert matching_columns(EXPECTED, got) is None
    assert matching_columns([[15.0]], [{"n": 14}]) is None


def test_numbers_match_within_rounding() -> None:
    assert matching_columns([[0.612345678]], [{"mean": 0.6123}]) == ["mean"]
    assert matching_columns([[431.2833]], [{"minutes": 431.3}]) == ["minutes"]
    assert matching_columns([[0.61]], [{"mean": 0.65}]) is None
    assert matching_columns([["0.001"]], [{"lr": 0.001}]) is None  # text is not a number


def test_empty_answers() -> None:
    assert matching_columns([], []) == []
    assert matching_columns([], [{"a": 1}]) is None


def test_normalise() -> None:
    assert normalise(3) == 3.0 and normalise(True) == 1.0 and normalise(float("nan")) is None
    assert normalise([64, 64, 32]) == "[64, 64, 32]"


def test_tool_results_become_tables() -> None:
    sql = {"columns": ["model_family", "n"], "rows": [["segresnet", 4]]}
    assert rows_from_result("query_runs", sql) == [{"model_family": "segresnet", "n": 4}]
    run = {"run_id": "a" * 32, "model_family": "segresnet", "status": "FAILED"}
    failures = {"groups": [{"error_type": "RuntimeError", "runs": [{"run": run, "message": "oom",
                                                                  "params": {"optim.lr": "0.01"}}]}]}  # fmt: skip
    (row,) = rows_from_result("failure_summary", failures)
    assert row["run_id"] == "a" * 32 and row["param:optim.lr"] == "0.01" and row["error_type"] == "RuntimeError"
    assert rows_from_result("learning_curves", {"png": "x"}) == []
    assert rows_from_result("query_runs", "ERROR: refused") == []
