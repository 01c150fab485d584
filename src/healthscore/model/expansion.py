"""The expansion-propensity model: the churn model's training path on expansion labels.

:func:`train_expansion` calls :func:`healthscore.model.training.train_models` (the
same LightGBM estimator, early stopping and Platt calibration on the validation
window, the same out-of-time split) on a training set whose ``label`` is the expansion
label of :mod:`healthscore.dataset.expansion`, as a one-row-one-window classifier
(no hazard: an expansion is not a loss over the renewal calendar). Beside the
baselines of every training run (``logistic``, ``base_rate``, and ``scorecard``: the
churn rule scorecard's health score mapped onto the expansion rate, i.e. "healthy
means upsell") it evaluates the vendor rule "green and growing"
(:class:`GreenGrowingRule`) on the same test rows. The model's flat metrics carry
``expansion_min_increase`` (what makes the model an expansion model for ``score``)
and ``expansion_mean_increase`` (the mean MRR rise of the expanding training rows,
which turns a probability into an expected ARR gain).

Pure: frames and params in, a :class:`ExpansionTrainResult` out; logging it is
:func:`healthscore.tracking.log_training_run`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.errors import DataError, ModelError
from healthscore.model.baselines import RuleScorecard
from healthscore.model.calibration import fit_platt
from healthscore.model.evaluation import metrics_table
from healthscore.model.scale import HealthScale
from healthscore.model.split import split_by_time
from healthscore.model.train_result import TrainResult
from healthscore.model.training import train_models

#: The flat-metric keys that mark an exported model as an expansion model.
MIN_INCREASE_KEY = "expansion_min_increase"
MEAN_INCREASE_KEY = "expansion_mean_increase"
RULE = "green_growing"


@dataclasses.dataclass
class ExpansionTrainResult(TrainResult):
    """A :class:`TrainResult` whose flat metrics add the expansion keys."""

    extra_metrics: dict[str, float] = dataclasses.field(default_factory=dict)

    def flat_metrics(self) -> dict[str, float]:
        return {**super().flat_metrics(), **self.extra_metrics}


class GreenGrowingRule:
    """The vendor rule "green and growing": a tier of 0, 1 or 2 points, one for a
    health score in the green band (the churn rule scorecard's score, the cold-start
    score every install has) and one for a rise of ``growth_feature`` (e.g. the MRR
    change over 90 days: seats or a plan bought recently), mapped onto a probability by
    a Platt fit on the validation window.

    Parameters
    ----------
    scorecard : RuleScorecard
        Unfitted churn rule scorecard (``params.scorecard``, the health scale).
    growth_feature : str
        A change feature; a missing value counts as no growth.
    """

    def __init__(self, scorecard: RuleScorecard, *, growth_feature: str) -> None:
        self.scorecard = scorecard
        self.growth_feature = growth_feature

    def fit(self, X: pd.DataFrame, y: Any, *, X_val: pd.DataFrame | None = None,
            y_val: Any = None) -> "GreenGrowingRule":
        if self.growth_feature not in X.columns:
            raise DataError(f"expansion rule baseline: the training set has no feature "
                            f"{self.growth_feature!r} (params.expansion.growth_feature)")
        self.card_ = self.scorecard.fit(X, y)  # the rules; its own risk map is not used
        frame, labels = (X_val, y_val) if X_val is not None and y_val is not None and \
            0 < np.sum(y_val) < len(y_val) else (X, y)
        self.a_, self.b_ = fit_platt(self.tier(frame), np.asarray(labels), what="rule tier")
        return self

    def tier(self, X: pd.DataFrame) -> np.ndarray:
        """0, 1 or 2 points per row (float64)."""
        card = getattr(self, "card_", None)
        if card is None:
            raise ModelError("GreenGrowingRule: fit it first")
        green = card.health_score(X) >= card.scale.green_from
        growth = X[self.growth_feature].to_numpy(dtype=np.float64, na_value=np.nan)
        return green.astype(np.float64) + np.nan_to_num(growth > 0, nan=0.0).astype(np.float64)

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of an expansion of each row, shape (n,)."""
        return expit(self.a_ * self.tier(X) + self.b_)


def train_expansion(
    dataset: pd.DataFrame, params: Any, *, ground_truth: pd.DataFrame | None = None
) -> ExpansionTrainResult:
    """Train, calibrate and evaluate the expansion model beside its baselines.

    Parameters
    ----------
    dataset : DataFrame
        A training set whose ``label`` is the expansion label and which carries
        ``mrr_before`` and ``mrr_peak`` (:func:`healthscore.dataset.expansion.make_expansion_labels`).
    params : healthscore.config.Params
        ``split``, ``model``, ``calibration``, ``scorecard``, ``score`` as for the churn
        model; ``expansion`` for the rule baseline and the label's share.
    ground_truth : DataFrame, optional
        ``account_id``, ``cutoff_time``, ``expansion_proba`` (the simulator's): adds the
        ``oracle`` predictor on the test rows that have it.

    Raises
    ------
    InsufficientDataError
        Fewer than ``model.min_churned_rows`` expanding training rows.
    """
    missing = [c for c in ("mrr_before", "mrr_peak") if c not in dataset.columns]
    if missing:
        raise DataError(f"expansion training set: no column {missing[0]!r}; label it with "
                        "healthscore.dataset.expansion.make_expansion_labels")
    result = train_models(dataset, split=params.split, model=params.model,
                          calibration=params.calibration, scorecard=params.scorecard,
                          score=params.score, mode="ml")
    train, validation, test = split_by_time(dataset, params.split)
    scale = HealthScale.from_params(params.score)
    rule = GreenGrowingRule(RuleScorecard.from_params(params.scorecard, scale),
                            growth_feature=params.expansion.growth_feature)
    rule.fit(train, _y(train), X_val=validation, y_val=_y(validation))
    risks = {RULE: rule.predict_risk(test)}
    if ground_truth is not None:
        risks["oracle"] = oracle_expansion(test, ground_truth, horizon_days=params.expansion.horizon_days)
    y_test = _y(test)
    segments = test["accounts__segment"] if "accounts__segment" in test.columns else None
    extra = metrics_table(y_test, risks, segments=segments, n_bins=params.calibration.ece_bins)
    metrics = pd.concat([result.metrics, extra], ignore_index=True)
    metrics = metrics.sort_values(["segment"], key=lambda s: s != "all", kind="stable").reset_index(drop=True)
    predictions = result.predictions.copy()
    for name, values in risks.items():
        predictions[f"risk_{name}"] = values
    grown = train.loc[train["label"] == 1]
    rise = float(np.mean(grown["mrr_peak"] / grown["mrr_before"] - 1.0)) if len(grown) else \
        float(params.expansion.min_increase)
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(TrainResult)}
    fields.update(metrics=metrics, predictions=predictions)
    out = ExpansionTrainResult(**fields, extra_metrics={
        MIN_INCREASE_KEY: float(params.expansion.min_increase), MEAN_INCREASE_KEY: rise,
        "expansion_horizon_days": float(params.expansion.horizon_days)})
    if ground_truth is not None:
        pair = metrics.query("segment == 'all'").set_index("predictor")["roc_auc"]
        out.oracle_auc_ratio = float(pair["model"] / pair["oracle"])
    return out


def oracle_expansion(rows: pd.DataFrame, ground_truth: pd.DataFrame, *,
                     horizon_days: int | None = None) -> np.ndarray:
    """The simulator's expansion probability of each row (NaN where it has none).

    ``horizon_days``: the label's (``expansion.horizon_days``); an oracle table of
    another horizon (its ``horizon_days`` column) is refused, it measures another event.
    """
    from healthscore.model.oracle import oracle_risk

    if "expansion_proba" not in ground_truth.columns:
        raise DataError("ground truth: no column 'expansion_proba' (the simulator's oracle "
                        "table with the expansion probability: simulate --oracle-horizon-days N "
                        "--oracle-expansion)")
    if horizon_days is not None and "horizon_days" in ground_truth.columns:
        other = ground_truth.loc[ground_truth["horizon_days"] != horizon_days]
        if len(other):
            row = other.iloc[0]
            raise DataError(f"ground truth: column horizon_days is {int(row['horizon_days'])} (e.g. "
                            f"account_id {row['account_id']}, cutoff_time {row['cutoff_time']}), "
                            f"but expansion.horizon_days is {horizon_days}: the oracle's "
                            "expansion_proba is of another horizon")
    return oracle_risk(rows, ground_truth, keys=("account_id", "cutoff_time"), value="expansion_proba")


def _y(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].to_numpy(dtype=np.int64)
