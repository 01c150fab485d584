"""HealthScoreModel: estimator contract, determinism, calibration, persistence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss
from sklearn.utils.estimator_checks import parametrize_with_checks

from healthscore.errors import DataError, ModelError
from healthscore.model.calibration import Calibrator, fit_calibrator
from healthscore.model.estimator import HealthScoreModel

SMALL = dict(n_estimators=60, learning_rate=0.1, min_child_samples=10, early_stopping_rounds=10, n_jobs=1)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "usage__x": rng.normal(size=n),
            "support__y": rng.normal(size=n),
            "accounts__segment": pd.Categorical(rng.choice(["smb", "mid", "ent"], n)),
        }
    )
    X.loc[rng.random(n) < 0.1, "usage__x"] = np.nan
    logit = -1.5 + 1.2 * X["usage__x"].fillna(0) - 0.8 * X["support__y"] ** 2 + (X["accounts__segment"] == "ent")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    return X, y


@pytest.fixture(scope="module")
def data():
    return _data(1500, 0)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return HealthScoreModel(**SMALL).fit(X.iloc[:1000], y[:1000], X_val=X.iloc[1000:], y_val=y[1000:])


@parametrize_with_checks([HealthScoreModel(n_estimators=20, min_child_samples=2, early_stopping_rounds=5, n_jobs=1)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_same_data_and_seed_give_the_same_model_bytes(data):
    X, y = data
    first = HealthScoreModel(**SMALL).fit(X, y)
    second = HealthScoreModel(**SMALL).fit(X.copy(), y.copy())
    assert first.booster_.model_to_string() == second.booster_.model_to_string()
    other = HealthScoreModel(**{**SMALL, "random_state": 7}).fit(X, y)
    assert other.booster_.model_to_string() != first.booster_.model_to_string()


def test_early_stopping_keeps_only_the_best_trees(fitted):
    assert fitted.validation_ == "given"
    assert 1 <= fitted.best_iteration_ <= SMALL["n_estimators"]
    assert fitted.booster_.num_trees() == fitted.best_iteration_


def test_without_validation_a_seeded_stratified_holdout_is_used(data):
    X, y = data
    model = HealthScoreModel(**SMALL).fit(X, y)
    assert model.validation_ == "holdout"
    tiny = HealthScoreModel(**SMALL).fit(X.iloc[:6], np.array([0, 1, 0, 0, 0, 0]))
    assert tiny.validation_ == "in-sample"  # one churned row cannot be split


def test_probabilities_logits_and_contributions_agree(fitted, data):
    X, _ = data
    proba = fitted.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.allclose(proba[:, 1], fitted.predict_risk(X))
    margin = fitted.predict_margin(X)
    cal = fitted.calibrator_
    assert np.allclose(fitted.predict_logit(X), cal.a * margin + cal.b)
    contrib = fitted.contributions(X)
    assert contrib.shape == (len(X), X.shape[1] + 1)
    assert np.allclose(contrib.sum(axis=1), margin)  # last column is the expected value


def test_platt_calibration_does_not_worsen_brier_on_held_out_rows():
    # An over-confident booster (deep trees, no early stopping) needs calibration.
    X, y = _data(4000, 1)
    model = HealthScoreModel(
        n_estimators=300, learning_rate=0.3, num_leaves=31, max_depth=-1, min_child_samples=5,
        early_stopping_rounds=0, n_jobs=1,
    ).fit(X.iloc[:2000], y[:2000], X_val=X.iloc[2000:3000], y_val=y[2000:3000])
    held_X, held_y = X.iloc[3000:], y[3000:]
    raw = 1 / (1 + np.exp(-model.predict_margin(held_X)))
    assert brier_score_loss(held_y, model.predict_risk(held_X)) <= brier_score_loss(held_y, raw)


def test_isotonic_is_available_and_monotone(data):
    X, y = data
    model = HealthScoreModel(**{**SMALL, "calibration": "isotonic"}).fit(X, y)
    assert model.calibrator_.method == "isotonic"
    margin = np.linspace(-6, 6, 50)
    assert (np.diff(model.calibrator_.proba(margin)) >= 0).all()


def test_categories_encode_identically_whatever_the_scoring_frame(fitted, data):
    X, _ = data
    rows = X.iloc[:20]
    as_text = rows.assign(accounts__segment=rows["accounts__segment"].astype(str))
    reordered = rows.assign(
        accounts__segment=rows["accounts__segment"].cat.reorder_categories(["smb", "mid", "ent"])
    )
    extra = rows.assign(account_id=range(20))[["account_id", *reversed(X.columns)]]
    expected = fitted.predict_risk(rows)
    for frame in (as_text, reordered, extra):
        assert np.array_equal(fitted.predict_risk(frame), expected)
    unseen = rows.assign(accounts__segment=pd.Categorical(["new"] * 20))
    missing = rows.assign(accounts__segment=pd.Categorical([None] * 20, categories=["smb"]))
    assert np.array_equal(fitted.predict_risk(unseen), fitted.predict_risk(missing))


def test_a_missing_feature_column_is_a_data_error(fitted, data):
    X, _ = data
    with pytest.raises(DataError, match="missing feature column.*support__y"):
        fitted.predict_risk(X.drop(columns="support__y"))


def test_save_load_predict_equals_in_memory(fitted, data, tmp_path):
    X, _ = data
    fitted.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "features.json", "model.txt"]
    loaded = HealthScoreModel.load(tmp_path)
    assert np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(loaded.contributions(X), fitted.contributions(X))
    assert loaded.categories_ == fitted.categories_
    assert loaded.get_params() == fitted.get_params()
    assert json.loads((tmp_path / "calibration.json").read_text())["method"] == "platt"


def test_loading_a_broken_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="missing model.txt"):
        HealthScoreModel.load(tmp_path)


def test_calibrator_round_trips_and_rejects_one_class():
    cal = fit_calibrator(np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 0.5]), np.array([0, 0, 1, 1, 1, 0]))
    assert Calibrator.from_json(cal.to_json()) == cal
    with pytest.raises(ModelError, match="both churned and retained"):
        fit_calibrator(np.array([0.1, 0.2]), np.array([1, 1]))
