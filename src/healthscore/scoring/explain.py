"""Explanations in score points: TreeSHAP contributions mapped onto the health score.

LightGBM's own TreeSHAP (``pred_contrib=True``) splits each raw margin into a base
(the expected margin, ``phi_0``) plus one contribution ``phi_i`` per feature. Platt
calibration is linear (``calibrated_logit = a * margin + b``) and the health score is
linear in the calibrated logit (``unclipped = offset - factor * logit``), so

* the points of feature ``i`` are ``-factor * a * phi_i`` (positive = healthier);
* the base is ``offset - factor * (a * phi_0 + b)``;
* ``base + sum(points) = unclipped health score``, exactly (up to float rounding).

The health score shown is ``clip(round(unclipped), 1, 100)``. With an isotonic
calibrator the points use the Platt coefficients (fitted in both cases) and the gap
to the isotonic score is carried as a ``residual`` so the sum still holds.

A model without trees (the rule scorecard) explains itself: it exposes per-rule points
that add up to its score, and :func:`explain_model` takes them as they are.

What the points say (the top drivers, points by family, cause fidelity) is
:mod:`healthscore.scoring.drivers`; a risk and points in words, :mod:`healthscore.scoring.risk_words`.

Everything here is pure: arrays and frames in, arrays and frames out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.model.baselines import RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import ExportedModel
from healthscore.model.exposure import INTERVAL_COLUMNS, combine_hazards, expand_intervals, horizon_weights
from healthscore.model.predictor import BlendPredictor, HazardPredictor, LogisticPredictor
from healthscore.model.scale import round_score
from healthscore.scoring.risk_words import describe_risk  # noqa: F401  (notebooks/02 imports it from here)


# ----------------------------------------------------------------- the arithmetic


def points_from_contributions(
    contributions: np.ndarray, *, a: float, b: float, offset: float, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """Score points and base of TreeSHAP contributions.

    Parameters
    ----------
    contributions : ndarray of shape (n, p + 1)
        Raw-margin (log-odds) contributions, last column the expected value ``phi_0``
        (LightGBM's ``pred_contrib=True`` layout).
    a, b : float
        Platt coefficients: ``calibrated_logit = a * margin + b``.
    offset, factor : float
        Health scale: ``unclipped = offset - factor * calibrated_logit``;
        ``factor = pdo / ln 2``.

    Returns
    -------
    points : ndarray of shape (n, p)
        ``-factor * a * phi_i``, in health-score points (positive = healthier).
    base : ndarray of shape (n,)
        ``offset - factor * (a * phi_0 + b)``.
    """
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim != 2 or contributions.shape[1] < 1:
        raise ValueError(f"contributions: expected shape (n, p + 1), got {contributions.shape}")
    scale = -float(factor) * float(a)
    points = contributions[:, :-1] * scale
    base = float(offset) - float(factor) * (float(a) * contributions[:, -1] + float(b))
    return points, base


@dataclass(frozen=True)
class Explanation:
    """Scores of ``n`` rows and their split into points over ``p`` features.

    ``base + points.sum(axis=1) + residual == unclipped`` for every row.

    Attributes
    ----------
    feature_names : list of str, length p
    points : ndarray (n, p), float64
        Health-score points per feature; negative points hurt.
    base : ndarray (n,)
        The score of an average account under this model.
    residual : ndarray (n,)
        What the points do not explain: 0 for Platt calibration and scorecards; the
        gap between the isotonic score and the Platt points otherwise.
    unclipped : ndarray (n,)
        ``offset - factor * calibrated_logit``, before rounding and clipping.
    risk_proba : ndarray (n,)
        Calibrated churn probability.
    health_score : ndarray (n,), int64, 1..100
    band : ndarray (n,), object: red, yellow or green
    """

    feature_names: list[str]
    points: np.ndarray
    base: np.ndarray
    residual: np.ndarray
    unclipped: np.ndarray
    risk_proba: np.ndarray
    health_score: np.ndarray
    band: np.ndarray

    def __len__(self) -> int:
        return len(self.base)

    def take(self, rows: np.ndarray) -> "Explanation":
        """The explanation of a subset (or permutation) of rows."""
        return Explanation(
            list(self.feature_names), self.points[rows], self.base[rows], self.residual[rows],
            self.unclipped[rows], self.risk_proba[rows], self.health_score[rows], self.band[rows],
        )


def explanation_from_points(
    points: np.ndarray,
    base: np.ndarray,
    residual: np.ndarray,
    *,
    feature_names: Sequence[str],
    scale: Any,
) -> Explanation:
    """Assemble an :class:`Explanation` from points: the score follows from their sum.

    ``scale`` is a :class:`healthscore.model.HealthScale` (``offset``, ``factor``,
    ``score_from_logit``, ``band``). Used for fresh explanations and for points
    reused from an earlier run.
    """
    points = np.asarray(points, dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    residual = np.asarray(residual, dtype=np.float64)
    unclipped = base + points.sum(axis=1) + residual
    logit = (float(scale.offset) - unclipped) / float(scale.factor)
    score = scale.score_from_logit(logit)
    return Explanation(
        list(feature_names), points, base, residual, unclipped, expit(logit),
        score, np.asarray(scale.band(score), dtype=object).reshape(-1),
    )


def explain_contributions(
    contributions: np.ndarray,
    *,
    a: float,
    b: float,
    scale: Any,
    feature_names: Sequence[str],
    calibrated_logit: np.ndarray | None = None,
) -> Explanation:
    """Explanation of TreeSHAP contributions under Platt ``(a, b)`` and ``scale``.

    ``calibrated_logit`` is given only when the score comes from another calibrator
    (isotonic); the difference to the Platt points is then the ``residual``.
    """
    points, base = points_from_contributions(
        contributions, a=a, b=b, offset=scale.offset, factor=scale.factor
    )
    residual = np.zeros_like(base)
    if calibrated_logit is not None:
        unclipped = float(scale.offset) - float(scale.factor) * np.asarray(calibrated_logit)
        residual = unclipped - (base + points.sum(axis=1))
    return explanation_from_points(points, base, residual, feature_names=feature_names, scale=scale)


#: The scorecard's neutral mark: a rule at 50 of its 100 points neither hurts nor helps.
SCORECARD_BASE = 50.0


def explain_model(model: Any, X: pd.DataFrame, *, scale: Any = None) -> Explanation:
    """Explain a fitted model's scores of the feature rows ``X`` (n rows).

    Parameters
    ----------
    model : ExportedModel or Predictor
        An :class:`healthscore.model.ExportedModel` brings its own scale; a bare
        predictor (``HealthScoreModel``, ``HazardPredictor``, ``RuleScorecard``) is
        explained by :func:`explain_predictor`, by its class. A tree model
        exposes ``contributions(X)`` (n x (p + 1), raw margin) and ``calibrator_``.
        A rule scorecard exposes ``points(X)`` (0-100 per rule) and ``weights()``; its
        health score is the weighted mean of the rule points, so a rule's points in
        the explanation are ``weight * (rule points - 50)`` and the base is 50: a rule
        below half its points hurts, above helps, and the sum is the score.
    X : DataFrame
        The model's feature columns (by name), n rows.
    scale : HealthScale
        Required unless ``model`` is an ``ExportedModel``.
    """
    if isinstance(model, ExportedModel):
        return explain_predictor(model.predictor, X, scale=model.scale)
    if scale is None:
        raise TypeError("explain_model: scale is required for a bare model")
    return explain_predictor(model, X, scale=scale)


@functools.singledispatch
def explain_predictor(predictor: Any, X: pd.DataFrame, *, scale: Any) -> Explanation:
    """Explain ``predictor``'s scores of ``X`` on ``scale``: one implementation per
    :class:`~healthscore.model.predictor.Predictor` class (registered below)."""
    raise TypeError(f"cannot explain a {type(predictor).__name__}: no contributions nor rule points")


@explain_predictor.register(HealthScoreModel)
def explain_tree_model(model: HealthScoreModel, X: pd.DataFrame, *, scale: Any) -> Explanation:
    """TreeSHAP contributions of the margin under the model's Platt coefficients; an
    isotonic score's gap to them is the residual."""
    names = list(model.feature_names_)
    contributions = model.contributions(X[names])
    calibrator = model.calibrator_
    logit = None
    if calibrator.method != "platt":
        logit = calibrator.logit(contributions.sum(axis=1))
    return explain_contributions(
        contributions, a=calibrator.a, b=calibrator.b, scale=scale,
        feature_names=names, calibrated_logit=logit,
    )


@explain_predictor.register(RuleScorecard)
def explain_scorecard(model: RuleScorecard, X: pd.DataFrame, *, scale: Any) -> Explanation:
    """A rule's points are ``weight * (rule points - 50)`` around the base 50; the
    score and risk are the scorecard's own, from the same rule points."""
    weights = model.weights()
    names = [str(n) for n in weights.index]
    rule_points = model.points(X).loc[:, names].to_numpy(dtype=np.float64)
    points = (rule_points - SCORECARD_BASE) * weights.to_numpy()
    base = np.full(len(points), SCORECARD_BASE)
    unclipped = base + points.sum(axis=1)
    # the score and risk as the scorecard itself rounds and maps them, from the same points
    score = round_score(model.unclipped_from_points(rule_points))
    return Explanation(
        names, points, base, np.zeros(len(points)), unclipped,
        np.asarray(model.risk_from_score(score), dtype=np.float64), score,
        np.asarray(scale.band(score), dtype=object).reshape(-1),
    )


@explain_predictor.register(BlendPredictor)
def explain_blend(blend: BlendPredictor, X: pd.DataFrame, *, scale: Any) -> Explanation:
    """The blend's logit is ``intercept + margin_coef * margin + card_coef * card``:
    a feature's points are its TreeSHAP share of the margin times ``-factor *
    margin_coef`` plus, for a rule's feature, ``-factor * card_coef * weight * (rule
    points - 50)``; the base holds the intercept, the expected margin and the card at
    50 everywhere. Base + points = the unclipped score, exactly (no residual)."""
    names = blend.feature_names
    trees = list(blend.model.feature_names_)
    contributions = blend.model.contributions(X[trees])
    factor = float(scale.factor)
    points = np.zeros((len(X), len(names)))
    points[:, :len(trees)] = -factor * blend.margin_coef * contributions[:, :-1]
    weights = blend.card.weights()
    rule_points = blend.card.points(X).loc[:, list(weights.index)].to_numpy(dtype=np.float64)
    column = {n: i for i, n in enumerate(names)}
    for j, feature in enumerate(weights.index):
        points[:, column[str(feature)]] += (-factor * blend.card_coef * float(weights.iloc[j])
                                            * (rule_points[:, j] - SCORECARD_BASE))
    logit_base = (blend.intercept + blend.margin_coef * contributions[:, -1]
                  + blend.card_coef * SCORECARD_BASE * float(weights.sum()))
    base = float(scale.offset) - factor * logit_base
    return explanation_from_points(points, base, np.zeros(len(X)), feature_names=names, scale=scale)


@explain_predictor.register(LogisticPredictor)
def explain_logistic(served: LogisticPredictor, X: pd.DataFrame, *, scale: Any) -> Explanation:
    """The served logit is ``slope * (base + sum_j c_j) + intercept``, ``c_j`` each
    column's exact share of the regression's logit measured from the fitting rows'
    average (:meth:`~healthscore.model.logistic.LogisticBaseline.contributions`): a
    feature's points are ``-factor * slope * c_j``, the base ``offset - factor *
    (slope * base + intercept)``. Base + points = the unclipped score, exactly."""
    contributions = served.regression.contributions(X)
    factor = float(scale.factor)
    points = -factor * served.slope * contributions[:, :-1]
    base = float(scale.offset) - factor * (served.slope * contributions[:, -1] + served.intercept)
    return explanation_from_points(points, base, np.zeros(len(X)), feature_names=served.feature_names,
                                   scale=scale)


@explain_predictor.register(HazardPredictor)
def _explain_hazard(hazard: HazardPredictor, X: pd.DataFrame, *, scale: Any) -> Explanation:
    return explain_horizon(hazard, X, scale=scale)


def explain_horizon(hazard: HazardPredictor, X: pd.DataFrame, *, scale: Any) -> Explanation:
    """Explain a hazard model's horizon scores (:mod:`healthscore.model.exposure`).

    Each account's window logit ``L`` combines its intervals' calibrated hazard
    logits ``l_k = a_k * m_k + b_k`` (Platt slope and intercept at the interval's
    lead). Integrated gradients on the straight path from every ``l_k`` at its
    reference ``a_k * phi_0 + b_k`` (an average account) give each interval a weight
    ``g_k``; TreeSHAP splits each ``m_k``. A feature's points are ``-factor * s *
    sum_k g_k * a_k * phi_ik``, with ``s`` (about 1) making them add up exactly; the
    calendar alone (every interval at its reference) moves the score by ``-factor *
    (L_cal - l_0)``, the points of ``exposure__renewals``, where ``l_0 = a * phi_0 + b``
    gives the base ``offset - factor * l_0``. Base + points + residual = the unclipped
    score, exactly (``residual`` is 0 under Platt).
    """
    model = hazard.model
    rows, owner = expand_intervals(X)
    n = len(X)
    contributions = model.interval_contributions(rows, owner, varying=INTERVAL_COLUMNS)
    calibrator = model.calibrator_
    factor = float(scale.factor)
    lead = np.broadcast_to(np.asarray(model.lead_years(rows), dtype=np.float64), (len(rows),))
    slope = calibrator.slope(lead)                       # a + a_lead * lead, per interval
    intercept = calibrator.b + calibrator.b_lead * lead
    margin = contributions.sum(axis=1)
    logit = slope * margin + intercept
    phi_0 = float(contributions[0, -1]) if len(rows) else 0.0
    reference = slope * phi_0 + intercept                # each interval of an average account
    base_logit = float(calibrator.a) * phi_0 + float(calibrator.b)
    g, calendar = horizon_weights(logit, owner, n, reference=reference)
    window = combine_hazards(logit, owner, n)
    served = window if calibrator.method == "platt" else combine_hazards(
        calibrator.logit(margin), owner, n)
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.array([], int)
    weighted = contributions[:, :-1] * (g * slope)[:, None]
    feature_logit = np.add.reduceat(weighted, starts, axis=0) if len(starts) else np.zeros((0, weighted.shape[1]))
    target = window - calendar
    approx = feature_logit.sum(axis=1)
    ok = np.abs(approx) > 1e-12
    stretch = np.where(ok, target / np.where(ok, approx, 1.0), 1.0)
    feature_logit *= stretch[:, None]
    left = target - feature_logit.sum(axis=1)
    points = np.column_stack([-factor * feature_logit, -factor * (calendar - base_logit)])
    base = np.full(n, float(scale.offset) - factor * base_logit)
    residual = -factor * (served - window) - factor * left
    return explanation_from_points(points, base, residual, feature_names=hazard.feature_names,
                                   scale=scale)
