"""The prepared logistic regression as a served predictor (issue 15): exported when the
inner folds prefer it, read back without pickle, explained in points that add up."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from healthscore.errors import ModelError
from healthscore.model import ExportedModel, HealthScale
from healthscore.model.logistic import LOGISTIC_PIPELINE, LogisticBaseline
from healthscore.model.export import load_bundle, save_bundle
from healthscore.model.predictor import LogisticPredictor
from healthscore.model.selection import select_predictor, served_logistic
from points_add_up import assert_points_add_up  # tests/


def _frame(n: int = 500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    usage = rng.exponential(20, n)
    X = pd.DataFrame({
        "events__count__30d": usage,
        "events__count__90d": usage * 3 + rng.exponential(5, n),  # correlated: one group
        "tickets__opened__90d": np.where(rng.random(n) < 0.3, np.nan, rng.poisson(2, n)),
        "surveys__nps_last": rng.integers(0, 11, n).astype(float),
        "never_seen": np.full(n, np.nan),                          # dropped by the imputer
        "accounts__segment": pd.Categorical(rng.choice(["SMB", "Mid-Market", "Enterprise"], n)),
    })
    logit = -2.0 - 0.04 * usage + 0.3 * np.nan_to_num(X["tickets__opened__90d"].to_numpy()) \
        + 0.5 * (X["accounts__segment"] == "SMB")
    y = (rng.random(n) < expit(logit)).astype(np.int64)
    return X, y


@pytest.mark.parametrize("transform,group_above", [("log1p", 0.0), ("rank", 0.0), ("none", 0.6)])
@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_the_regression_splits_its_logit_into_one_exact_share_per_column(transform, group_above):
    X, y = _frame()
    model = LogisticBaseline(C=1.0, penalty="l1", transform=transform, group_above=group_above).fit(X, y)
    shares = model.contributions(X)
    assert shares.shape == (len(X), X.shape[1] + 1)
    np.testing.assert_allclose(shares.sum(axis=1), model.predict_logit(X), atol=1e-12)
    # measured from the fitting rows' average: the base is their mean logit, shares average 0
    np.testing.assert_allclose(shares[:, -1], model.predict_logit(X).mean(), atol=1e-12)
    np.testing.assert_allclose(shares[:, :-1].mean(axis=0), 0.0, atol=1e-12)
    # a column the imputer dropped (never observed) has no share
    np.testing.assert_array_equal(shares[:, list(X.columns).index("never_seen")], 0.0)
    # one row's shares: changing one column moves only that column's share
    other = X.iloc[:1].copy()
    other["surveys__nps_last"] = 10.0 - other["surveys__nps_last"]
    moved = model.contributions(other)[0] - shares[0]
    moved[list(X.columns).index("surveys__nps_last")] = 0.0
    np.testing.assert_allclose(moved, 0.0, atol=1e-12)
    np.testing.assert_allclose(model.predict_risk(X), expit(model.predict_logit(X)), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_a_served_regression_is_saved_without_pickle_and_read_back_the_same(tmp_path):
    X, y = _frame()
    regression = LogisticBaseline(C=0.3, penalty="l1", transform="rank").fit(X, y)
    served = served_logistic(regression, regression.predict_logit(X), y)
    np.testing.assert_allclose(served.predict_logit(X),
                               served.slope * regression.predict_logit(X) + served.intercept)
    exported = ExportedModel(served, HealthScale())
    save_bundle(exported, tmp_path / "bundle")
    assert not list((tmp_path / "bundle").glob("*.pkl"))
    again = load_bundle(tmp_path / "bundle")
    assert again.kind == "logistic" and again.model is None and again.horizon is None
    pd.testing.assert_frame_equal(again.predict_frame(X), exported.predict_frame(X))
    assert again.predictor.identity() == served.identity()
    np.testing.assert_array_equal(again.predictor.predict_renewal_risk(X), again.predict_risk(X))
    with pytest.raises(ModelError, match="finite"):
        LogisticPredictor(regression, slope=float("nan"), intercept=0.0)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_a_pipeline_file_naming_an_unknown_type_is_refused_not_run(tmp_path):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    X, y = _frame()
    regression = LogisticBaseline(C=1.0, penalty="l1", transform="log1p").fit(X, y)
    regression.save(tmp_path)
    # a pipeline whose function is one this package never writes (here: json.loads)
    skops.io.dump(FunctionTransformer(json.loads), tmp_path / LOGISTIC_PIPELINE)
    with pytest.raises(ModelError, match="refused to load type.*json.loads"):
        LogisticBaseline.load(tmp_path)
    (tmp_path / LOGISTIC_PIPELINE).write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a pipeline"):
        LogisticBaseline.load(tmp_path)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_a_served_regression_explains_its_score_in_points_that_add_up():
    X, y = _frame()
    regression = LogisticBaseline(C=1.0, penalty="l1", transform="log1p").fit(X, y)
    scale = HealthScale()
    served = served_logistic(regression, regression.predict_logit(X), y)
    explanation = assert_points_add_up(ExportedModel(served, scale), X, scale=scale)
    # fewer events, lower score: the usage column's points rise with usage
    usage = explanation.points[:, explanation.feature_names.index("events__count__30d")]
    assert np.corrcoef(usage, X["events__count__30d"].rank())[0, 1] > 0.5


def test_the_logistic_regression_is_exported_when_it_wins():
    y = np.array([0, 1] * 50)
    folds = [(np.zeros(100, bool), np.ones(100, bool))]
    chosen = select_predictor(y, {"lightgbm": np.linspace(0, 1, 100), "logistic": y + 0.1,
                                  "scorecard": np.zeros(100)}, folds, where="v", margin=0.005)
    assert (chosen.winner, chosen.exported) == ("logistic", "logistic")


def test_the_small_data_regression_is_served_with_its_inner_folds_calibration():
    import dataclasses

    from healthscore.config import CalibrationParams, ModelParams, ScorecardParams
    from healthscore.config.small_data import SmallDataParams
    from healthscore.model.baselines import RuleScorecard
    from healthscore.model.selection import fit_small_data
    from healthscore.model.synthetic import make_training_frame
    from healthscore.model.training import feature_columns

    dataset, _ = make_training_frame(700, random_state=3)
    part = dataset[(dataset["account_id"] <= 150) & dataset["label"].notna()].reset_index(drop=True)
    names = feature_columns(part)
    inner = fit_small_data(part, names, model=ModelParams(n_estimators=40, n_jobs=1),
                           calibration=CalibrationParams(),
                           card=RuleScorecard.from_params(ScorecardParams(), HealthScale()),
                           small_data=SmallDataParams(inner_folds=3, logistic_cs=[0.3],
                                                      logistic_transforms=["log1p"]))
    inner.selection = dataclasses.replace(inner.selection, winner="logistic")
    served = inner.exported_predictor()
    assert isinstance(served, LogisticPredictor) and served.regression is inner.logistic
    y = part["label"].to_numpy()
    # the level matches the part's churn rate; the slope comes from the out-of-fold logits
    assert served.predict_risk(part[names]).mean() == pytest.approx(y.mean(), rel=1e-6)
    assert served.slope > 0
