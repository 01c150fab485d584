"""Baselines trained and evaluated beside every model on the same split.

* :class:`BaseRateBaseline`: every row gets the training churn rate.
* :class:`RuleScorecard`: the weighted rule scorecard most vendors ship (Gainsight,
  HubSpot): each metric scores 0-100 points linearly between a ``bad`` and a ``good``
  value, the health score is the weighted mean. Its churn probability comes from a
  one-feature logistic fit of the score on the validation window, so its log loss and
  calibration error compare with the model's. It is also the cold-start mode.
* the prepared logistic regression: :mod:`healthscore.model.logistic`.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.errors import ConfigError, DataError, ModelError
from healthscore.model.calibration import fit_platt
from healthscore.model.scale import HealthScale, round_score

log = logging.getLogger(__name__)

SCORECARD_FORMAT = 1


class BaseRateBaseline:
    """Predicts the training churn rate for every row."""

    def fit(self, X: Any, y: Any) -> "BaseRateBaseline":
        y = np.asarray(y, dtype=np.float64)
        if y.size == 0:
            raise ModelError("base rate: no training rows")
        self.rate_ = float(y.mean())
        return self

    def predict_risk(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.rate_, dtype=np.float64)


class RuleScorecard:
    """Weighted rule scorecard: 0-100 points per metric, weighted mean = health score.

    Parameters
    ----------
    rules : sequence of ScorecardRule
        ``feature``, ``good``, ``bad``, ``weight``. 100 points at ``good`` or better,
        0 at ``bad`` or worse, linear between (``good < bad`` means less is better).
    missing_points : float
        Points of a metric whose value is missing.
    scale : HealthScale
        Bands, and the prior risk used when no window has both classes to calibrate
        on (``logit = (offset - score) / factor``).

    Attributes
    ----------
    rules_ : list of ScorecardRule
        The rules whose feature was present at fit; weights renormalised over them.
    a_, b_ : float
        ``calibrated_logit = a_ * health_score + b_``.
    calibration_ : {"validation", "train", "prior"}
        Where the risk map came from.

    A fitted scorecard is a :class:`~healthscore.model.predictor.Predictor`: its health
    score is its own weighted rule points, not the scale on a logit.
    """

    kind = "scorecard"
    horizon = None
    scale_scores = False
    tree_model = None

    def __init__(
        self, rules: Sequence[Any], *, missing_points: float = 50.0, scale: HealthScale
    ) -> None:
        self.rules = list(rules)
        self.missing_points = missing_points
        self.scale = scale

    @classmethod
    def from_params(cls, params: Any, scale: HealthScale) -> "RuleScorecard":
        """From ``params.scorecard`` (ScorecardParams) and the health scale."""
        return cls(params.rules, missing_points=params.missing_points, scale=scale)

    def fit(
        self, X: pd.DataFrame, y: Any = None, *, X_val: pd.DataFrame | None = None,
        y_val: Any = None,
    ) -> "RuleScorecard":
        """Keep the rules whose feature is in ``X`` and fit the score-to-risk map.

        The map is a one-feature logistic fit of the health score on the validation
        window; on the training window when validation lacks a class; the scale's prior
        when neither has both classes.
        """
        _check_rules(self.rules, self.missing_points)
        present = [r for r in self.rules if r.feature in X.columns]
        skipped = [r.feature for r in self.rules if r.feature not in X.columns]
        if skipped:
            log.warning("scorecard: feature(s) absent, rule(s) skipped: %s", ", ".join(skipped))
        if not present:
            raise ModelError(
                "scorecard: none of the rule features is in the training set "
                f"({', '.join(r.feature for r in self.rules)}); set params.scorecard.rules"
            )
        self.rules_ = present
        self.calibration_ = "prior"
        self.a_ = -1.0 / self.scale.factor
        self.b_ = self.scale.offset / self.scale.factor
        for name, frame, labels in (("validation", X_val, y_val), ("train", X, y)):
            if frame is None or labels is None:
                continue
            labels = np.asarray(labels, dtype=np.int64)
            if 0 < labels.sum() < len(labels):
                self.a_, self.b_ = fit_platt(self.health_score(frame), labels, what="score")
                self.calibration_ = name
                break
        if self.calibration_ == "prior":
            log.warning("scorecard: no window has churned and retained rows; risk from the scale")
        return self

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points (0-100, float) of each rule, shape (n, rules), columns = features."""
        rules = self._fitted_rules()
        missing = [r.feature for r in rules if r.feature not in X.columns]
        if missing:
            raise DataError(f"scoring frame: missing scorecard feature(s) {', '.join(missing)}")
        out = {}
        for rule in rules:
            values = X[rule.feature].to_numpy(dtype=np.float64, na_value=np.nan)
            share = (values - rule.bad) / (rule.good - rule.bad)
            points = 100.0 * np.clip(share, 0.0, 1.0)
            out[rule.feature] = np.where(np.isnan(values), self.missing_points, points)
        return pd.DataFrame(out, index=X.index)

    def weights(self) -> pd.Series:
        """Rule weights normalised to sum to 1, indexed by feature."""
        rules = self._fitted_rules()
        total = sum(r.weight for r in rules)
        return pd.Series({r.feature: r.weight / total for r in rules}, dtype=np.float64)

    def unclipped_from_points(self, rule_points: Any) -> np.ndarray:
        """Weighted mean of rule points (columns in :meth:`weights` order) before rounding.

        Rounded to 9 decimals so that float noise (0.3 / 0.6 = 0.4999...) cannot flip
        the final rounding of a score that is exactly half a point.
        """
        return np.round(np.asarray(rule_points, dtype=np.float64) @ self.weights().to_numpy(), 9)

    def unclipped_score(self, X: pd.DataFrame) -> np.ndarray:
        """Weighted mean points (float, 0-100) before rounding."""
        return self.unclipped_from_points(self.points(X).to_numpy())

    def health_score(self, X: pd.DataFrame, *, scale: Any = None, logit: Any = None) -> np.ndarray:
        """Health score (int64, 1..100): weighted mean points rounded half up (``scale``
        and ``logit`` of the Predictor contract are not needed: the rules decide)."""
        return round_score(self.unclipped_score(X))

    @property
    def feature_names(self) -> list[str]:
        """The features of the rules kept at fit, in rule order."""
        return [r.feature for r in self._fitted_rules()]

    def risk_from_score(self, score: Any) -> np.ndarray:
        """Churn probability of health scores through the fitted score-to-risk map."""
        return expit(self.a_ * np.asarray(score, dtype=np.float64) + self.b_)

    def predict_logit(self, X: pd.DataFrame) -> np.ndarray:
        return self.a_ * self.health_score(X) + self.b_

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probability from the fitted score-to-risk map, shape (n,)."""
        return self.risk_from_score(self.health_score(X))

    def predict_renewal_risk(self, X: pd.DataFrame) -> np.ndarray:
        """The next renewal's risk: ``risk_proba`` (a row is one renewal)."""
        return self.predict_risk(X)

    def identity(self) -> bytes:
        """The fitted rules and risk map as bytes: what decides a score."""
        return json.dumps(self.to_dict(), sort_keys=True).encode()

    def _fitted_rules(self) -> list[Any]:
        if not hasattr(self, "rules_"):
            raise ModelError("scorecard: not fitted; call fit() first")
        return self.rules_

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SCORECARD_FORMAT,
            "kind": "scorecard",
            "rules": [
                {"feature": r.feature, "good": r.good, "bad": r.bad, "weight": r.weight}
                for r in self._fitted_rules()
            ],
            "missing_points": self.missing_points,
            "a": self.a_,
            "b": self.b_,
            "calibration": self.calibration_,
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``scorecard.json`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "scorecard.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path, *, scale: HealthScale) -> "RuleScorecard":
        from healthscore.config import ScorecardRule

        from healthscore.model.manifest import read_kind_json

        path = Path(directory) / "scorecard.json"
        data = read_kind_json(path, kind="scorecard", format=SCORECARD_FORMAT, what="a scorecard")
        try:
            rules = [ScorecardRule(**r) for r in data["rules"]]
            card = cls(rules, missing_points=float(data["missing_points"]), scale=scale)
            card.a_, card.b_ = float(data["a"]), float(data["b"])
            card.calibration_ = data["calibration"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: not the rules a scorecard export writes ({exc})") from None
        card.rules_ = rules
        return card


def _check_rules(rules: Sequence[Any], missing_points: float) -> None:
    if not rules:
        raise ConfigError("scorecard.rules: expected at least one rule")
    for i, rule in enumerate(rules):
        where = f"scorecard.rules[{i}] ({rule.feature})"
        if not (math.isfinite(rule.good) and math.isfinite(rule.bad)) or rule.good == rule.bad:
            raise ConfigError(f"{where}: expected finite good != bad, got {rule.good}, {rule.bad}")
        if not rule.weight > 0:
            raise ConfigError(f"{where}: expected weight > 0, got {rule.weight}")
    if not 0 <= missing_points <= 100:
        raise ConfigError(f"scorecard.missing_points: expected 0-100, got {missing_points}")
