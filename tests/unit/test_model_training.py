"""train_models: the training stage as a pure function, on the synthetic frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from healthscore.config import CalibrationParams, ModelParams, ScoreParams, ScorecardParams, SplitParams
from healthscore.errors import InsufficientDataError
from healthscore.model.synthetic import make_training_frame
from healthscore.model.oracle import oracle_risk
from healthscore.model.train_result import TrainResult
from healthscore.model.training import feature_columns, train_models

FAST = ModelParams(n_estimators=80, learning_rate=0.1, min_child_samples=20, early_stopping_rounds=15, n_jobs=1)
PREDICTORS = ["model", "logistic", "scorecard", "base_rate", "oracle"]


def _train(dataset, *, mode="ml", model=FAST, ground_truth=None) -> TrainResult:
    return train_models(
        dataset,
        split=SplitParams(test_months=6, validation_months=6),
        model=model,
        calibration=CalibrationParams(),
        scorecard=ScorecardParams(),
        score=ScoreParams(),
        mode=mode,
        ground_truth=ground_truth,
    )


@pytest.fixture(scope="module")
def synthetic():
    return make_training_frame(1500, random_state=11)


@pytest.fixture(scope="module")
def result(synthetic):
    dataset, truth = synthetic
    return _train(dataset, ground_truth=truth)


def test_model_and_every_baseline_are_evaluated_on_the_same_test_rows(result, synthetic):
    overall = result.metrics.query("segment == 'all'")
    assert overall["predictor"].tolist() == PREDICTORS
    assert overall["rows"].nunique() == 1
    assert overall["rows"].iloc[0] == result.counts.set_index("window").loc["test", "rows"]
    segments = set(result.metrics["segment"]) - {"all"}
    assert segments == {"smb", "mid_market", "enterprise"}


def test_the_model_learns_and_is_calibrated_on_simulated_data(result):
    model, base = result.overall("model"), result.overall("base_rate")
    assert model["roc_auc"] > 0.75
    assert model["log_loss"] < base["log_loss"]
    # every synthetic row has ground truth, so the ratio is that of the overall AUCs
    assert result.oracle_auc_ratio == pytest.approx(model["roc_auc"] / result.overall("oracle")["roc_auc"])
    assert model["ece"] < 0.08


def test_observed_churn_falls_from_red_to_green(result):
    rates = result.bands.query("predictor == 'model'").set_index("band")["churn_rate"]
    assert rates["red"] > rates["yellow"] > rates["green"]


def test_flat_metrics_name_predictor_and_metric(result):
    flat = result.flat_metrics()
    for name in ("test_model_roc_auc", "test_scorecard_roc_auc", "test_logistic_log_loss",
                 "test_base_rate_brier", "test_oracle_ece", "test_model_auc_to_oracle",
                 "val_model_log_loss", "test_model_churn_rate_red", "rows_train",
                 "segment/smb/test_model_roc_auc", "best_iteration"):
        assert name in flat, name
    assert all(isinstance(v, float) for v in flat.values())


def test_predictions_keep_keys_labels_scores_and_bands(result):
    frame = result.predictions
    assert {"account_id", "cutoff_time", "renewal_date", "label", "risk_model", "health_score", "band"} <= set(frame.columns)
    order = np.argsort(frame["risk_model"].to_numpy())
    assert (np.diff(frame["health_score"].to_numpy()[order]) <= 0).all()
    assert set(result.figures) == {"reliability", "roc", "lift"}


def test_too_few_churned_rows_refuse_ml_and_recommend_the_scorecard(synthetic):
    dataset, _ = synthetic
    small = dataset[dataset["account_id"] <= 60]
    churned = int(small.loc[small["cutoff_time"] < "2023-10-01", "label"].sum())
    with pytest.raises(InsufficientDataError) as info:
        _train(small)
    message = str(info.value)
    assert f"{churned} churned row" in message
    assert "--mode scorecard" in message and "50" in message


def test_scorecard_mode_exports_the_scorecard_with_the_same_outputs(synthetic):
    dataset, _ = synthetic
    small = dataset[dataset["account_id"] <= 200]
    result = _train(small, mode="scorecard")
    assert result.model is None and result.exported.kind == "scorecard"
    overall = result.metrics.query("segment == 'all'").set_index("predictor")
    assert overall.loc["model", "roc_auc"] == overall.loc["scorecard", "roc_auc"]
    assert "test_model_ece" in result.flat_metrics()
    scores = result.exported.health_score(small[feature_columns(small)])
    assert scores.min() >= 1 and scores.max() <= 100


def test_oracle_joins_on_account_and_renewal_date(synthetic):
    dataset, truth = synthetic
    rows = dataset.head(3)
    assert np.allclose(oracle_risk(rows, truth), truth.set_index(["account_id", "renewal_date"]).loc[
        list(zip(rows["account_id"], rows["renewal_date"])), "churn_proba"].to_numpy())
    assert math.isnan(oracle_risk(rows, truth.iloc[0:0])[0])


def test_tuning_is_seeded_starts_from_the_settings_and_never_loses_to_them(synthetic):
    from healthscore.config import TuneParams
    from healthscore.model.split import split_by_time
    from healthscore.model.tuning import SPACE, tune_model_params

    dataset, _ = synthetic
    train, validation, _ = split_by_time(dataset, SplitParams())
    names = feature_columns(dataset)
    args = (train[names], train["label"].to_numpy(int), validation[names], validation["label"].to_numpy(int))
    tune = TuneParams(n_trials=4, timeout_seconds=120)
    best, trials = tune_model_params(*args, model=FAST, calibration=CalibrationParams(), tune=tune)
    assert len(trials) == 4
    assert trials.loc[0, "num_leaves"] == FAST.num_leaves  # trial 0 = the configured settings
    assert trials["val_log_loss"].min() <= trials.loc[0, "val_log_loss"]
    chosen = trials.loc[trials["val_log_loss"].idxmin()]
    assert best.num_leaves == chosen["num_leaves"] and best.random_state == FAST.random_state
    for name, (_, low, high, _) in SPACE.items():
        assert low <= getattr(best, name) <= high
    again, _ = tune_model_params(*args, model=FAST, calibration=CalibrationParams(), tune=tune)
    assert again == best
