"""The expansion model: the churn training path on expansion labels, the "green and
growing" rule baseline, and the flat metrics that mark and price an expansion model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from healthscore.config import make_params
from healthscore.errors import DataError
from healthscore.model.baselines import RuleScorecard
from healthscore.model.expansion import (
    MEAN_INCREASE_KEY, MIN_INCREASE_KEY, GreenGrowingRule, train_expansion,
)
from healthscore.model.scale import HealthScale

PARAMS = make_params({"model": {"n_estimators": 60, "min_churned_rows": 10, "n_jobs": 1,
                                "early_stopping_rounds": 20},
                      "scorecard": {"rules": [{"feature": "events__seat_utilisation__30d", "good": 0.8,
                                               "bad": 0.2, "weight": 1.0}]}})


def synthetic_set(seed: int = 0, accounts: int = 300) -> pd.DataFrame:
    """Monthly rows whose expansion follows seat utilisation and the MRR trend."""
    rng = np.random.default_rng(seed)
    cutoffs = pd.date_range("2021-01-01", "2023-06-01", freq="MS")
    n = len(cutoffs) * accounts
    util = rng.uniform(0, 1.2, n)
    trend = rng.normal(0, 50, n)
    p = 1 / (1 + np.exp(-(-2.0 + 2.5 * util + 0.02 * trend)))
    label = (rng.random(n) < p).astype(int)
    rise = np.where(label == 1, rng.uniform(0.1, 0.5, n), rng.uniform(-0.2, 0.05, n))
    return pd.DataFrame({
        "account_id": np.tile(np.arange(accounts), len(cutoffs)),
        "cutoff_time": np.repeat(cutoffs.to_numpy(), accounts).astype("datetime64[us]"),
        "renewal_date": pd.NaT, "label": pd.array(label, dtype="Int8"), "term_days": 365.0,
        "lost_at": pd.NaT, "mrr_before": 100.0, "mrr_peak": 100.0 * (1 + rise),
        "events__seat_utilisation__30d": util, "subscriptions__mrr_change__90d": trend,
        "accounts__segment": pd.Categorical(rng.choice(["SMB", "Enterprise"], n)),
    })


def test_the_rule_gives_a_point_for_green_and_one_for_growth():
    rule = GreenGrowingRule(RuleScorecard.from_params(PARAMS.scorecard, HealthScale.from_params(PARAMS.score)),
                            growth_feature="subscriptions__mrr_change__90d")
    X = pd.DataFrame({"events__seat_utilisation__30d": [0.9, 0.9, 0.1, 0.1],
                      "subscriptions__mrr_change__90d": [10.0, -5.0, 10.0, np.nan]})
    y = np.array([1, 0, 0, 0])
    rule.fit(pd.concat([X] * 5), np.tile(y, 5))
    assert rule.tier(X).tolist() == [2.0, 1.0, 1.0, 0.0]
    risk = rule.predict_risk(X)
    assert risk[0] > risk[1] == pytest.approx(risk[2]) and risk[2] > risk[3]


def test_the_rule_names_a_missing_growth_feature():
    rule = GreenGrowingRule(RuleScorecard.from_params(PARAMS.scorecard, HealthScale.from_params(PARAMS.score)),
                            growth_feature="subscriptions__mrr_change__30d")
    with pytest.raises(DataError, match="subscriptions__mrr_change__30d"):
        rule.fit(pd.DataFrame({"events__seat_utilisation__30d": [0.5]}), [1])


def test_train_expansion_beats_the_base_rate_and_marks_the_model():
    data = synthetic_set()
    result = train_expansion(data, PARAMS)
    overall = result.metrics.query("segment == 'all'").set_index("predictor")
    assert {"model", "logistic", "scorecard", "base_rate", "green_growing"} <= set(overall.index)
    assert overall.loc["model", "roc_auc"] > overall.loc["base_rate", "roc_auc"] + 0.1
    assert overall.loc["green_growing", "roc_auc"] > 0.55  # the rule sees the signal, coarsely
    assert result.metrics["segment"].iloc[:5].eq("all").all()
    flat = result.flat_metrics()
    assert flat[MIN_INCREASE_KEY] == 0.10 and flat["test_green_growing_roc_auc"] > 0.5
    train = data.loc[data["cutoff_time"] <= result.windows.validation_start]
    grown = train.loc[train["label"] == 1]
    assert flat[MEAN_INCREASE_KEY] == pytest.approx((grown["mrr_peak"] / grown["mrr_before"] - 1).mean())
    risk = result.exported.predict_risk(data[result.feature_names].head(50))
    assert ((risk > 0) & (risk < 1)).all()
    assert "risk_green_growing" in result.predictions


def test_train_expansion_needs_the_expansion_columns():
    with pytest.raises(DataError, match="mrr_before"):
        train_expansion(synthetic_set(accounts=20).drop(columns=["mrr_before"]), PARAMS)
