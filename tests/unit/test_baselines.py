"""Baselines: the rule scorecard's arithmetic, its calibration, base rate, logistic."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from healthscore.config import ScorecardParams, ScorecardRule
from healthscore.errors import ConfigError, DataError, ModelError
from healthscore.model.baselines import BaseRateBaseline, RuleScorecard
from healthscore.model.logistic import LogisticBaseline
from healthscore.model.scale import HealthScale

SCALE = HealthScale()
RULES = [
    ScorecardRule("events__seat_utilisation__30d", good=0.8, bad=0.2, weight=3.0),
    ScorecardRule("events__days_since_last", good=3.0, bad=30.0, weight=1.0),  # less is better
]


def _card(rules=RULES, missing_points=50.0):
    return RuleScorecard(rules, missing_points=missing_points, scale=SCALE)


def test_points_are_linear_between_bad_and_good_and_clipped():
    X = pd.DataFrame(
        {
            "events__seat_utilisation__30d": [0.8, 0.5, 0.2, 1.0, 0.0, np.nan],
            "events__days_since_last": [3.0, 16.5, 30.0, 0.0, 90.0, 16.5],
        }
    )
    card = _card().fit(X)
    points = card.points(X)
    assert points["events__seat_utilisation__30d"].tolist() == pytest.approx([100, 50, 0, 100, 0, 50])
    assert points["events__days_since_last"].tolist() == pytest.approx([100, 50, 0, 100, 0, 50])
    # weights 3:1; row 0 = 100, row 2 = 0 -> clipped to 1, row 4 = 0 -> 1
    assert card.health_score(X).tolist() == [100, 50, 1, 100, 1, 50]


def test_weighted_mean_rounds_half_up():
    X = pd.DataFrame({"events__seat_utilisation__30d": [0.5], "events__days_since_last": [3.0]})
    # (3 * 50 + 1 * 100) / 4 = 62.5 -> 63
    assert _card().fit(X).health_score(X).tolist() == [63]


def test_absent_features_are_skipped_and_weights_renormalised(caplog):
    X = pd.DataFrame({"events__days_since_last": [3.0, 30.0]})
    with caplog.at_level(logging.WARNING):
        card = _card().fit(X)
    assert "events__seat_utilisation__30d" in caplog.text
    assert card.weights().to_dict() == {"events__days_since_last": 1.0}
    assert card.health_score(X).tolist() == [100, 1]
    with pytest.raises(ModelError, match="none of the rule features"):
        _card().fit(pd.DataFrame({"other__x": [1.0]}))


def test_risk_comes_from_a_logistic_fit_on_validation_and_falls_with_the_score():
    rng = np.random.default_rng(0)
    util = rng.uniform(0, 1, 2000)
    churn = (rng.random(2000) < 0.5 - 0.4 * util).astype(int)
    X = pd.DataFrame({"events__seat_utilisation__30d": util, "events__days_since_last": 10.0})
    card = _card().fit(X[:1000], churn[:1000], X_val=X[1000:], y_val=churn[1000:])
    assert card.calibration_ == "validation"
    assert card.a_ < 0
    scores = card.health_score(X)
    risk = card.predict_risk(X)
    order = np.argsort(scores, kind="stable")
    assert (np.diff(risk[order]) <= 1e-12).all()


def test_without_both_classes_the_scale_prior_maps_score_to_risk():
    X = pd.DataFrame({"events__seat_utilisation__30d": [0.2, 0.8], "events__days_since_last": [30.0, 3.0]})
    card = _card().fit(X, np.array([0, 0]))
    assert card.calibration_ == "prior"
    assert np.allclose(card.predict_logit(X), SCALE.logit_from_score(card.health_score(X)))


def test_save_and_load_give_the_same_scores(tmp_path):
    X = pd.DataFrame({"events__seat_utilisation__30d": [0.1, 0.5, 0.9], "events__days_since_last": [40.0, 5.0, np.nan]})
    card = _card().fit(X, np.array([1, 0, 0]))
    card.save(tmp_path)
    loaded = RuleScorecard.load(tmp_path, scale=SCALE)
    assert np.array_equal(loaded.health_score(X), card.health_score(X))
    assert np.array_equal(loaded.predict_risk(X), card.predict_risk(X))


def test_bad_rules_are_config_errors():
    X = pd.DataFrame({"events__days_since_last": [1.0]})
    with pytest.raises(ConfigError, match="good != bad"):
        _card([ScorecardRule("events__days_since_last", good=1.0, bad=1.0, weight=1.0)]).fit(X)
    with pytest.raises(ConfigError, match="weight > 0"):
        _card([ScorecardRule("events__days_since_last", good=1.0, bad=5.0, weight=0.0)]).fit(X)
    with pytest.raises(DataError, match="missing scorecard feature"):
        _card().fit(X).points(pd.DataFrame({"x__y": [1.0]}))


def test_default_rules_use_the_feature_builders_names():
    rules = ScorecardParams().rules
    assert len(rules) >= 8
    assert sum(r.weight for r in rules) == pytest.approx(1.0)
    assert all("__" in r.feature for r in rules)


def test_base_rate_predicts_the_training_churn_rate():
    base = BaseRateBaseline().fit(None, [0, 1, 0, 0])
    assert base.predict_risk(range(3)).tolist() == [0.25, 0.25, 0.25]


def test_logistic_handles_missing_values_categories_and_unseen_levels():
    rng = np.random.default_rng(1)
    n = 400
    X = pd.DataFrame(
        {
            "usage__x": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "accounts__segment": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    y = ((X["usage__x"].fillna(0) + (X["accounts__segment"] == "b")) > 0.5).astype(int).to_numpy()
    model = LogisticBaseline().fit(X, y)
    risk = model.predict_risk(X)
    assert ((risk > 0) & (risk < 1)).all()
    assert risk[y == 1].mean() > risk[y == 0].mean()
    unseen = X.head(3).assign(accounts__segment=["c", None, "a"])
    assert np.isfinite(model.predict_risk(unseen)).all()
