"""Inner time-ordered folds, the tree count they choose and the out-of-fold calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.errors import ModelError
from healthscore.model.calibration import fit_calibrator
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.inner_cv import inner_time_folds, oof_mask
from healthscore.model.synthetic import make_training_frame
from healthscore.model.training import feature_columns


@pytest.fixture(scope="module")
def part():
    dataset, _ = make_training_frame(900, random_state=5)
    return dataset.loc[dataset["label"].notna()].reset_index(drop=True)


def test_folds_validate_on_whole_later_days_only():
    cutoffs = np.repeat(pd.date_range("2024-01-01", periods=10, freq="D").to_numpy(), 3)
    y = np.tile([0, 1, 0], 10)
    folds = inner_time_folds(cutoffs[::-1], y[::-1], n_folds=4)  # any row order
    assert len(folds) == 4
    for fit, val in folds:
        assert cutoffs[::-1][fit].max() < cutoffs[::-1][val].min()
        days_val = set(cutoffs[::-1][val])
        assert not days_val & set(cutoffs[::-1][~val])  # a day is wholly in or out
    assert oof_mask(folds, 30).sum() == 24  # the first two days (6 rows) never validate


def test_folds_without_both_classes_are_dropped():
    cutoffs = np.repeat(pd.date_range("2024-01-01", periods=10, freq="D").to_numpy(), 2)
    y = np.zeros(20, dtype=int)
    y[-1] = 1  # churn only on the last day: only a fold validating it has it, but its fit has none
    assert inner_time_folds(cutoffs, y, n_folds=4) == []


def test_inner_cv_chooses_the_trees_and_calibrates_on_out_of_fold_margins(part):
    names = feature_columns(part)
    y = part["label"].to_numpy(dtype=np.int64)
    model = HealthScoreModel(n_estimators=150, learning_rate=0.1, min_child_samples=20,
                             inner_folds=3, n_jobs=1).fit(part[names], y, cutoffs=part["cutoff_time"])
    assert model.validation_ == "inner-cv" and model.inner_folds_ == 3
    assert model.best_iteration_ == int(np.argmin(model.inner_curve_)) + 1
    assert 1 < model.best_iteration_ < 150  # the curve has a minimum inside the cap
    has = ~np.isnan(model.oof_margin_)
    assert 0 < has.sum() < len(y)  # the earliest days have no out-of-fold margin
    blocks = np.zeros(len(y), dtype=int)
    for number, (_, val) in enumerate(inner_time_folds(part["cutoff_time"], y, n_folds=3)):
        blocks[val] = number
    expected = fit_calibrator(model.oof_margin_[has], y[has], method="platt", blocks=blocks[has])
    assert model.calibrator_.a > 0
    assert model.calibrator_.a == pytest.approx(expected.a)
    # the level is the refitted booster's own: its mean risk on the part is the churn rate
    assert model.predict_risk(part[names]).mean() == pytest.approx(y.mean(), rel=1e-6)
    # the refit booster saw every row: its in-sample margin differs from the out-of-fold one
    assert not np.allclose(model.predict_margin(part[names])[has], model.oof_margin_[has])


def test_inner_cv_round_trips_and_needs_cutoffs(part, tmp_path):
    names = feature_columns(part)
    y = part["label"].to_numpy(dtype=np.int64)
    model = HealthScoreModel(n_estimators=40, learning_rate=0.1, inner_folds=3, n_jobs=1)
    with pytest.raises(ValueError, match="inner_folds needs cutoffs"):
        model.fit(part[names], y)
    model.fit(part[names], y, cutoffs=part["cutoff_time"])
    loaded = HealthScoreModel.load(model.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict_risk(part[names]), model.predict_risk(part[names]))


def test_inner_cv_says_when_no_fold_has_both_classes(part):
    names = feature_columns(part)
    y = np.zeros(len(part), dtype=np.int64)
    y[-1] = 1
    with pytest.raises(ModelError, match="inner folds"):
        HealthScoreModel(n_estimators=10, inner_folds=3, n_jobs=1).fit(
            part[names], y, cutoffs=part["cutoff_time"])


def test_within_block_platt_keeps_the_ranking_when_levels_differ():
    from healthscore.model.calibration import fit_platt, fit_platt_within

    rng = np.random.default_rng(1)
    # two boosters: within each, a higher margin is riskier; the second sits 3 logits
    # higher but its rows churn less, so the pooled slope turns negative
    m1, m2 = rng.normal(size=2000), rng.normal(size=2000) + 3.0
    y1 = rng.random(2000) < 1 / (1 + np.exp(-(m1 - 1.0)))
    y2 = rng.random(2000) < 1 / (1 + np.exp(-(m2 - 3.0 - 3.0)))
    margin, y = np.concatenate([m1, m2]), np.concatenate([y1, y2]).astype(int)
    blocks = np.repeat([0, 1], 2000)
    assert fit_platt(margin, y)[0] < 0
    a, b = fit_platt_within(margin, y, blocks)
    assert a == pytest.approx(1.0, abs=0.15)
    assert np.sum(1 / (1 + np.exp(-(a * margin + b)))) == pytest.approx(y.sum(), rel=1e-6)
