"""Evaluation metrics on hand-computable data, tables and plots."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from healthscore.model.evaluation import (
    band_table,
    classification_metrics,
    expected_calibration_error,
    metrics_table,
    plot_lift,
    plot_reliability,
    plot_roc,
    top_share,
)


def test_ece_uses_equal_width_bins():
    # bin [0.1, 0.2): p 0.1, 0.1 vs y 0, 1 -> |0.5 - 0.1| * 2/4; bin [0.9, 1]: p 0.9, 0.9 vs y 1, 1 -> 0.1 * 2/4
    y = [0, 1, 1, 1]
    p = [0.1, 0.1, 0.9, 0.9]
    assert expected_calibration_error(y, p) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0  # p = 1 lands in the last bin


def test_top_decile_lift_and_recall():
    # 20 rows, 4 churned; the 2 riskiest rows are one churned, one retained
    y = np.array([1, 0] + [1, 1, 1] + [0] * 15)
    p = np.linspace(1.0, 0.0, 20)
    m = classification_metrics(y, p)
    assert top_share(p).sum() == 2
    assert m["churn_rate"] == pytest.approx(0.2)
    assert m["top_decile_lift"] == pytest.approx(0.5 / 0.2)
    assert m["recall_at_top10"] == pytest.approx(1 / 4)


def test_perfect_ranking_and_single_class_cases():
    m = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.04, 0.01]))
    one = classification_metrics([0, 0], [0.2, 0.3])
    assert math.isnan(one["roc_auc"]) and math.isnan(one["top_decile_lift"])


def test_metrics_table_puts_predictors_side_by_side_per_segment():
    y = np.array([0, 1, 0, 1, 0, 1])
    risks = {"model": np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.4]), "oracle": np.array([0.1, 0.9, np.nan, 0.8, 0.3, 0.6])}
    table = metrics_table(y, risks, segments=["a", "a", "a", "b", "b", "b"])
    assert table[["segment", "predictor"]].values.tolist() == [
        ["all", "model"], ["all", "oracle"], ["a", "model"], ["a", "oracle"], ["b", "model"], ["b", "oracle"],
    ]
    oracle_all = table.query("segment == 'all' and predictor == 'oracle'").iloc[0]
    assert oracle_all["rows"] == 5  # the NaN row is left out
    assert table.query("segment == 'b' and predictor == 'model'").iloc[0]["roc_auc"] == 1.0


def test_band_table_counts_churn_per_band_in_order():
    table = band_table([1, 1, 0, 0, 0], ["red", "red", "yellow", "green", "green"])
    assert table["band"].tolist() == ["red", "yellow", "green"]
    assert table["rows"].tolist() == [2, 1, 2]
    assert table["churn_rate"].tolist() == [1.0, 0.0, 0.0]
    empty = band_table([0], ["green"])
    assert math.isnan(empty.loc[0, "churn_rate"])


def test_plots_are_figures_with_one_line_per_predictor(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    risks = {"model": rng.random(200), "base_rate": np.full(200, y.mean())}
    for plot in (plot_reliability(y, risks), plot_roc(y, risks), plot_lift(y, risks)):
        assert isinstance(plot, Figure)
        labels = [line.get_label() for line in plot.axes[0].get_lines()]
        assert any(label.startswith("model") for label in labels)
        plot.savefig(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_reliability_table_has_the_points_of_the_curve():
    from healthscore.model.evaluation import reliability_table

    table = reliability_table([0, 1, 1, 1], [0.1, 0.15, 0.9, 0.95])
    assert table["bin"].tolist() == [1, 9]
    assert table["predicted"].tolist() == pytest.approx([0.125, 0.925])
    assert table["observed"].tolist() == [0.5, 1.0]
    assert table["count"].tolist() == [2, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_constant_predictor_has_lift_one_and_recall_a_tenth_on_any_row_order(seed):
    rng = np.random.default_rng(seed)
    y = np.sort(rng.random(503) < 0.2).astype(int)[::-1]  # churners first: the worst order
    for order in (np.arange(len(y)), rng.permutation(len(y))):
        m = classification_metrics(y[order], np.full(len(y), 0.3))
        assert m["top_decile_lift"] == pytest.approx(1.0)
        assert m["recall_at_top10"] == pytest.approx(np.ceil(0.1 * len(y)) / len(y))


def test_ties_at_the_boundary_share_the_places_left():
    # 10 rows: one clearly riskiest, then four tied; the top decile holds 1 row
    p = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert top_share(p).tolist() == [1.0] + [0.0] * 9
    # 20 rows: the top 2 places go to one row above the tie and half a place each
    # to the two tied rows
    p = np.array([0.9, 0.5, 0.5] + [0.1] * 17)
    w = top_share(p)
    assert w.sum() == pytest.approx(2) and w[:3].tolist() == [1.0, 0.5, 0.5]
    y = np.array([0, 1, 0] + [0] * 17)
    m = classification_metrics(y, p)
    assert m["recall_at_top10"] == pytest.approx(0.5)
    assert m["top_decile_lift"] == pytest.approx((0.5 / 2) / (1 / 20))
