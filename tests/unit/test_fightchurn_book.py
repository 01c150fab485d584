"""benchmarks/fightchurn_book.py: the book's cross-validation files read as the book
reports them, and the side-by-side table (the PostgreSQL and fightchurn steps run only
where a server and fightchurn's environment are at hand: benchmarks/results/)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def book():
    spec = importlib.util.spec_from_file_location("fightchurn_book", ROOT / "benchmarks" / "fightchurn_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_book_outputs(folder: Path) -> None:
    pd.DataFrame({"account_id": [1, 2, 3, 4], "observation_date": ["2020-02-09"] * 4,
                  "is_churn": [False, True, False, True]}).to_csv(folder / "socialnet7_dataset.csv", index=False)
    pd.DataFrame({"param_C": [0.64, 0.32, 0.16], "mean_test_AUC": [0.61, 0.66, 0.50],
                  "mean_test_lift": [2.0, 2.5, 1.0]}).to_csv(folder / "socialnet7_dataset_crossval.csv", index=False)
    pd.DataFrame({"param_max_depth": [1, 2, 4, 6], "param_learning_rate": [0.1, 0.2, 0.3, 0.4],
                  "param_n_estimators": [20, 40, 80, 120], "param_min_child_weight": [3, 6, 9, 12],
                  "mean_test_AUC": [0.70, 0.74, 0.60, 0.65], "mean_test_lift": [3.0, 3.2, 2.0, 2.2],
                  "rank_test_loss": [1, 2, 4, 3]}).to_csv(folder / "socialnet7_dataset_crossval_xgb.csv", index=False)


def test_book_figures_are_its_best_grid_points_and_the_refit(book, tmp_path):
    _write_book_outputs(tmp_path)
    figures = book.book_figures(tmp_path)
    assert (figures["rows"], figures["churned"]) == (4, 2)
    assert figures["logistic_best"] == {"C": 0.32, "roc_auc": 0.66, "top_decile_lift": 2.5}
    assert figures["xgboost_best"]["roc_auc"] == 0.74 and figures["xgboost_best"]["setting"]["max_depth"] == 2
    assert figures["xgboost_refit"] == {"roc_auc": 0.70, "top_decile_lift": 3.0}  # rank 1 by test log loss
    assert figures["xgboost_grid_median_roc_auc"] == pytest.approx(0.675)
    assert figures["grid_sizes"] == {"logistic": 3, "xgboost": 4}


def test_the_table_sets_each_draw_beside_the_book_and_averages_them(book, tmp_path):
    _write_book_outputs(tmp_path)
    draws = {}
    for name, ours in (("dev", 0.72), ("seed3", 0.68)):
        draws[name] = {task: {
            "book": {**book.book_figures(tmp_path),
                     "nested": {"logistic": {"roc_auc": 0.62, "top_decile_lift": 2.1},
                                "xgboost": {"roc_auc": 0.66, "top_decile_lift": 2.9}}},
            "healthscore": {p: {"roc_auc": ours + shift, "top_decile_lift": 3.0} for p in book.OURS}}
            for task, shift in (("chapter4", 0.0), ("chapter7", 0.01))}
    mean = {task: book.mean_roc_auc({n: d[task] for n, d in draws.items()}) for task in book.DATA_SETS}
    assert mean["chapter4"]["selected"] == pytest.approx(0.70) and mean["chapter7"]["selected"] == pytest.approx(0.71)
    assert mean["chapter4"]["xgboost_nested"] == pytest.approx(0.66)
    figures = {"draws": draws, "mean_roc_auc": mean, "recorded_at": "2026-12-07T00:00:00+00:00",
               "versions": {"healthscore": "0"}, "fightchurn": "1.2.0",
               "machine": {"cpu": "cpu", "cores": 2, "memory_gib": 1, "os": "os", "python": "3.11"}}
    text = book.render(figures, "python benchmarks/fightchurn_book.py ...")
    tables = [part for part in text.split("\n## ")[1:]]
    assert len(tables) == 2 and tables[1].startswith("The book's chapter-7 data set")
    rows = [line for line in tables[1].splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    dev = dict(zip(header, (c.strip() for c in rows[1].strip("|").split("|"))))
    assert dev["healthscore selected"] == "0.730 (3.00)"
    assert dev["book XGBoost, nested"] == "0.660 (2.90)"
    assert dev["book XGBoost, best of grid"] == "0.740 (3.20)"
    assert dev["book XGBoost, refit"] == "0.700 (3.00)"
    assert rows[-1].startswith("| mean |") and "0.710" in rows[-1]
