"""The prepared logistic regression, correlated groups, and the selection among predictors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from healthscore.config import (CalibrationParams, ModelParams, ScoreParams, ScorecardParams,
                                SplitParams)
from healthscore.config.small_data import SmallDataParams
from healthscore.errors import InsufficientDataError
from healthscore.model.logistic import LogisticBaseline
from healthscore.model.grouping import CorrelatedGroups
from healthscore.model.inner_cv import inner_time_folds
from healthscore.model.selection import fit_logistic, select_predictor
from healthscore.model.synthetic import make_training_frame
from healthscore.model.training import feature_columns, train_models

FAST = ModelParams(n_estimators=60, learning_rate=0.1, min_child_samples=20,
                   early_stopping_rounds=15, n_jobs=1)
SMALL = SmallDataParams(inner_folds=3, logistic_cs=[0.03, 1.0], logistic_transforms=["log1p", "rank"])


@pytest.fixture(scope="module")
def synthetic():
    return make_training_frame(700, random_state=3)


def _train(dataset, *, small_data=SMALL, model=FAST):
    return train_models(dataset, split=SplitParams(test_months=6, validation_months=6), model=model,
                        calibration=CalibrationParams(), scorecard=ScorecardParams(),
                        score=ScoreParams(), small_data=small_data)


def test_groups_average_correlated_metrics_with_their_sign():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), rng.normal(size=500)
    X = np.column_stack([a, a + 0.1 * rng.normal(size=500), -a, b])
    grouping = CorrelatedGroups(0.5).fit(X)
    groups = grouping.groups_
    assert groups[0] == groups[1] == groups[2] != groups[3]
    assert grouping.signs_[2] == -grouping.signs_[0]  # the opposite metric adds, not cancels
    out = grouping.transform(X)
    assert out.shape == (500, 2)
    assert abs(np.corrcoef(out[:, 0], a)[0, 1]) > 0.99


@pytest.mark.parametrize("transform", ["log1p", "rank"])
def test_prepared_logistic_ranks_better_than_chance_and_l1_drops_noise(synthetic, transform):
    dataset, _ = synthetic
    rows = dataset.loc[dataset["label"].notna()]
    names = feature_columns(rows)
    y = rows["label"].to_numpy(dtype=np.int64)
    model = LogisticBaseline(C=0.05, penalty="l1", transform=transform, group_above=0.5).fit(rows[names], y)
    risk = model.predict_risk(rows[names])
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, risk) > 0.7
    coefs = model.pipeline_.named_steps["logistic"].coef_
    assert (coefs == 0).any()  # L1: some weights are exactly zero
    assert "L1, C=0.05" in model.describe()


def test_logistic_settings_are_chosen_on_the_folds_only(synthetic):
    dataset, _ = synthetic
    rows = dataset.loc[dataset["label"].notna()].reset_index(drop=True)
    names = feature_columns(rows)
    y = rows["label"].to_numpy(dtype=np.int64)
    folds = inner_time_folds(rows["cutoff_time"], y, n_folds=3)
    model, oof, grid = fit_logistic(rows[names], y, folds, cs=[1e-4, 1.0], transforms=["log1p"])
    assert len(grid) == 2
    # C=1e-4 zeroes every L1 weight: a constant, AUC 0.5, so the fold choice is C=1
    assert grid.set_index("C").loc[1e-4, "inner_roc_auc"] == pytest.approx(0.5)
    assert model.C == 1.0
    assert np.isnan(oof[~folds[0][1] & ~folds[1][1] & ~folds[2][1]]).all()


def test_selection_picks_the_best_validation_auc_and_exports_it():
    y = np.array([0, 1] * 50)
    good, bad = y + np.linspace(0, 0.5, 100), np.linspace(0, 1, 100)
    folds = [(np.zeros(100, bool), np.ones(100, bool))]
    chosen = select_predictor(y, {"lightgbm": bad, "logistic": good, "scorecard": good - 0.2 * y},
                              folds, where="the validation window")
    assert chosen.winner == "logistic" and chosen.exported == "logistic"
    assert chosen.reason.startswith("logistic won on the validation window")
    assert list(chosen.table["predictor"]) == ["logistic", "scorecard", "lightgbm"]


def test_small_data_train_uses_inner_folds_and_no_refusal_below_the_minimum(synthetic):
    dataset, _ = synthetic
    small = dataset[dataset["account_id"] <= 150]
    with pytest.raises(InsufficientDataError):  # no selection: refused as before
        _train(small, small_data=dataclasses.replace(SMALL, select=False))
    result = _train(small)
    assert result.selection is not None
    assert "inner time-ordered folds" in result.selection.reason
    exported = result.selection.exported
    assert result.exported.kind == exported
    assert result.mode == ("scorecard" if exported == "scorecard" else "ml")
    candidates = set(result.selection.table["predictor"])
    assert set(result.validation_metrics["predictor"]) == (
        {"model", "logistic", "scorecard", "base_rate"} | ({"blend"} & candidates))


def test_large_data_keeps_early_stopping_and_selects_on_the_validation_window(synthetic):
    dataset, _ = synthetic
    result = _train(dataset, small_data=dataclasses.replace(SMALL, max_churned_rows=0))
    assert result.model.validation_ == "given"
    assert "the validation window" in result.selection.reason
    table = result.selection.table.set_index("predictor")
    winner = result.selection.winner
    assert table.loc[winner, "roc_auc"] == table["roc_auc"].max()
    assert result.exported.kind == winner  # whichever wins is served


def test_a_logistic_regression_that_wins_on_the_validation_window_is_served(synthetic):
    """Large data: a logistic regression ahead of LightGBM on the validation window is
    exported with Platt's step fitted on that window."""
    from healthscore.model.predictor import LogisticPredictor

    dataset, _ = synthetic
    # LightGBM with 2 trees of 2 leaves cannot keep up with the regression
    stump = dataclasses.replace(FAST, n_estimators=2, num_leaves=2, early_stopping_rounds=1)
    result = _train(dataset, small_data=dataclasses.replace(SMALL, max_churned_rows=0), model=stump)
    assert result.selection.winner == "logistic", result.selection.reason
    served = result.exported.predictor
    assert isinstance(served, LogisticPredictor) and served.regression is result.logistic
    test = result.metrics.query("segment == 'all'").set_index("predictor")
    assert test.loc["model", "roc_auc"] == pytest.approx(test.loc["logistic", "roc_auc"])


def test_train_prints_which_predictor_won_and_why(synthetic):
    from healthscore.commands.train import render_selection

    dataset, _ = synthetic
    result = _train(dataset[dataset["account_id"] <= 150])
    lines = render_selection(result)
    assert lines[0].startswith(f"  selected: {result.selection.exported} (")
    assert "won on the inner time-ordered folds" in lines[0]
    assert sum("validation ROC-AUC" in line for line in lines) == len(result.selection.table) >= 3


def test_a_tie_within_the_margin_keeps_lightgbm():
    y = np.array([0, 1] * 50)
    score = y + np.linspace(0, 1.2, 100)
    folds = [(np.zeros(100, bool), np.ones(100, bool))]
    tied = {"lightgbm": score, "scorecard": score + 0.05 * (y == 1) * (np.arange(100) < 20)}
    chosen = select_predictor(y, tied, folds, where="the validation window", margin=0.05)
    assert chosen.table.loc[0, "predictor"] == "scorecard"  # ahead, but by less than the margin
    assert chosen.winner == chosen.exported == "lightgbm"
    assert "not more than small_data.min_auc_gain 0.05" in chosen.reason
    assert select_predictor(y, tied, folds, where="v", margin=0.0).winner == "scorecard"


def test_the_expectation_quotes_the_nearest_measured_folds():
    from healthscore.model.selection import MEASURED, expectation

    text = expectation(40)
    for draw in {m[0] for m in MEASURED}:  # the nearest fold of every measured draw
        draw, n, served, trees, card = min((m for m in MEASURED if m[0] == draw), key=lambda m: abs(m[1] - 40))
        assert (f"{draw}, {n} churned rows: selected {served:.2f}, LightGBM {trees:.2f}, "
                f"scorecard {card:.2f}") in text
