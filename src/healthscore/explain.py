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

Everything here is pure: arrays and frames in, arrays and frames out.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.features.catalogue import FAMILIES
from healthscore.features.catalogue import SOURCE_FAMILY as _SOURCE_FAMILY  # a feature's family by its table
from healthscore.features.phrases import positive_days
from healthscore.model.baselines import RuleScorecard
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.export import ExportedModel
from healthscore.model.exposure import combine_hazards, expand_intervals, horizon_weights
from healthscore.model.predictor import HazardPredictor
from healthscore.model.scale import round_score


def family_column(family: str) -> str:
    """Column holding a family's points: ``points_<family>``."""
    return f"points_{family}"


def catalogue_entry(catalogue: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A feature's catalogue entry as a plain dict with at least ``label`` and ``family``.

    ``catalogue`` maps names to ``FeatureInfo`` objects or their dicts (as exported);
    an unknown feature gets its name as label and its source table's family.
    """
    info = catalogue.get(name)
    if info is not None and not isinstance(info, Mapping):
        info = {k: getattr(info, k) for k in ("name", "label", "family", "unit", "phrase",
                                               "kind", "healthy_direction") if hasattr(info, k)}
    entry = dict(info or {})
    entry.setdefault("label", name)
    if entry.get("family") not in FAMILIES:
        entry["family"] = _SOURCE_FAMILY.get(name.split("__", 1)[0], "account")
    return entry


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
    contributions = model.contributions(rows)
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


# ------------------------------------------------------------------------ drivers


@dataclass(frozen=True)
class Drivers:
    """The top ``k`` hurting and helping features of each row.

    ``hurting`` / ``helping``: int64 (n, k) feature indices, most important first,
    -1 where a row has fewer than ``k`` features pushing that way. ``hurting_points``
    (all < 0) and ``helping_points`` (all > 0): float64 (n, k), NaN where the index
    is -1.
    """

    hurting: np.ndarray
    hurting_points: np.ndarray
    helping: np.ndarray
    helping_points: np.ndarray


def _top_k(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (n, k) of the ``k`` largest positive values per row, largest first."""
    n, p = values.shape
    k_eff = min(k, p)
    if k_eff == 0:
        return np.full((n, k), -1, np.int64), np.full((n, k), np.nan)
    if k_eff < p:
        part = np.argpartition(-values, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(p), (n, p)).copy()
    picked = np.take_along_axis(values, part, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    val = np.take_along_axis(picked, order, axis=1)
    keep = val > 0
    idx = np.where(keep, idx, -1)
    val = np.where(keep, val, np.nan)
    if k_eff < k:
        pad = k - k_eff
        idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
        val = np.pad(val, ((0, 0), (0, pad)), constant_values=np.nan)
    return idx, val


def find_drivers(points: np.ndarray, *, k: int = 5) -> Drivers:
    """Top ``k`` hurting (most negative) and helping (most positive) features per row.

    Vectorised over rows (``argpartition`` then a sort of ``k`` columns); features
    with exactly zero points are neither.

    Parameters
    ----------
    points : ndarray of shape (n, p)
    k : int
    """
    points = np.asarray(points, dtype=np.float64)
    hurt, hurt_val = _top_k(-points, k)
    helps, helps_val = _top_k(points, k)
    return Drivers(hurt, -hurt_val, helps, helps_val)


def profile_mask(feature_names: Sequence[str], profile: Sequence[str]) -> np.ndarray:
    """Which features are profile facts (``score.profile_features``: exact names, or
    prefixes ending in ``__``): bool (p,)."""
    exact = {p for p in profile if not p.endswith("__")}
    prefixes = tuple(p for p in profile if p.endswith("__"))
    return np.array([n in exact or (bool(prefixes) and n.startswith(prefixes)) for n in feature_names],
                    dtype=bool)


def split_profile(explanation: "Explanation", profile: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(profile_score, driver_points)``: the base plus the profile facts' points (the
    score of accounts like this one), and the points with profile columns zeroed (what
    the drivers are chosen from). ``profile_score + driver_points.sum(axis=1) +
    residual`` is the unclipped score, exactly."""
    mask = profile_mask(explanation.feature_names, profile)
    points = explanation.points
    profile_score = explanation.base + points[:, mask].sum(axis=1)
    drivers = points.copy()
    drivers[:, mask] = 0.0
    return profile_score, drivers


def family_points(
    points: np.ndarray, feature_names: Sequence[str], families: Mapping[str, str]
) -> pd.DataFrame:
    """Points summed by family: one column ``points_<family>`` per family in
    :data:`FAMILIES` (zero when no feature belongs to it), n rows.

    ``families`` maps feature name to family; a feature without one counts as
    ``account``.
    """
    points = np.asarray(points, dtype=np.float64)
    member = np.zeros((points.shape[1], len(FAMILIES)))
    position = {f: j for j, f in enumerate(FAMILIES)}
    for i, name in enumerate(feature_names):
        member[i, position.get(families.get(name, "account"), position["account"])] = 1.0
    return pd.DataFrame(points @ member, columns=[family_column(f) for f in FAMILIES])


def explain_families(
    model: Any, dataset: pd.DataFrame, *, scale: Any = None, catalogue: Mapping[str, Any] | None = None,
    profile: Sequence[str] = (),
) -> pd.DataFrame:
    """Points by family of every row of a training-set-like frame.

    ``dataset`` holds the model's feature columns and keys; the result has the keys
    present (``account_id``, ``cutoff_time``, ``renewal_date``), the health score and
    one ``points_<family>`` column per family: the input of :func:`cause_fidelity`.
    ``catalogue`` defaults to the exported model's, then to the feature names' source.
    ``profile`` (``score.profile_features``): their points are left out, so the
    families are those of the behavioural drivers a CSM reads.
    """
    explanation = explain_model(model, dataset, scale=scale)
    if profile:
        _, points = split_profile(explanation, profile)
        explanation = dataclasses.replace(explanation, points=points)
    catalogue = catalogue if catalogue is not None else (getattr(model, "catalogue", None) or {})
    families = {n: catalogue_entry(catalogue, n)["family"] for n in explanation.feature_names}
    keys = [k for k in ("account_id", "cutoff_time", "renewal_date") if k in dataset.columns]
    out = dataset[keys].reset_index(drop=True)
    out["health_score"] = explanation.health_score
    return pd.concat([out, family_points(explanation.points, explanation.feature_names, families)],
                     axis=1)


# ------------------------------------------------------------------------- words


def format_points(points: float) -> str:
    """``-12 pts``, ``+3 pts``, ``-0.4 pts`` (one decimal below one point)."""
    if not np.isfinite(points):
        return "n/a"
    if abs(points) < 0.95:
        return f"{points:+.1f} pts"
    return f"{points:+.0f} pts"


def horizon_words(horizon_days: Any) -> str | None:
    """A horizon in days as a reader says it: ``12 months``, ``2 years``, ``6 months``,
    ``45 days``; None when unknown. The one wording of the horizon (risk words, ARR
    at risk)."""
    days = positive_days(horizon_days)
    if days is None:
        return None
    years = days / 365.25
    if days >= 360 and abs(years - round(years)) < 0.02:
        return "12 months" if round(years) == 1 else f"{round(years)} years"
    months = days / 30.44
    if days >= 28 and abs(months - round(months)) < 0.1:
        return "1 month" if round(months) == 1 else f"{round(months)} months"
    return f"{days:,.0f} day{'s' if round(days) != 1 else ''}"


def describe_risk(risk_proba: float, *, horizon_days: float | None = None,
                  outcome: str = "are lost") -> str:
    """A churn probability as a frequency a reader can picture, with its horizon.

    The one wording of a risk, used by ``healthscore explain`` and the report alike:
    ``0.14`` with ``horizon_days=365`` -> ``about 1 in 7 accounts like this are lost
    within 12 months``; ``0.6`` -> ``about 3 in 5 ...``. Below 20 % it is ``1 in N``;
    from 20 % the simplest fraction (denominator 2 to 10) within 4 percentage points;
    below 1 % ``fewer than 1 in 100``, above 97 % ``almost all``.

    Parameters
    ----------
    risk_proba : float
        Calibrated probability in [0, 1] (NaN or None: ``no churn estimate``).
    horizon_days : float, optional
        The horizon the probability is for (the scoring run's
        ``horizon.horizon_days``); None leaves it unsaid.
    outcome : str
        What happens to the accounts (``report.outcome``).
    """
    try:
        p = float(risk_proba)
    except (TypeError, ValueError):
        p = float("nan")
    if not np.isfinite(p):
        return "no churn estimate"
    p = min(max(p, 0.0), 1.0)
    horizon = horizon_words(horizon_days)
    tail = f" {outcome}" + (f" within {horizon}" if horizon else "")
    if p < 0.01:
        return f"fewer than 1 in 100 accounts like this{tail}"
    if p > 0.97:
        return f"almost all accounts like this{tail}"
    if p < 0.2:
        return f"about 1 in {round(1 / p):,} accounts like this{tail}"
    best = None
    for n in range(2, 11):
        k = min(max(round(p * n), 1), n - 1)
        if abs(k / n - p) <= 0.04:
            best = (k, n)
            break
        if best is None or abs(k / n - p) < abs(best[0] / best[1] - p):
            best = (k, n)
    k, n = best
    return f"about {k} in {n} accounts like this{tail}"


# ---------------------------------------------------------------------- fidelity


def cause_fidelity(points_by_family: pd.DataFrame, ground_truth: pd.DataFrame) -> float:
    """Share of churned renewals whose named primary cause shows in the explanation.

    A churned renewal with a ``primary_cause`` counts as a hit when its cause's family
    (``cause_family``) is among the three families with the most negative points
    (hurting, points < 0) of its explanation.

    Parameters
    ----------
    points_by_family : DataFrame
        ``account_id``, ``renewal_date`` and one ``points_<family>`` column per family
        (as :func:`family_points` names them), one row per explained renewal.
    ground_truth : DataFrame
        The simulator's ``ground_truth``: ``account_id``, ``renewal_date``,
        ``churned``, ``primary_cause``, ``cause_family``.

    Returns
    -------
    float
        Hits / churned renewals with a named cause that have an explanation; NaN when
        there are none.
    """
    keys = ["account_id", "renewal_date"]
    columns = [c for c in points_by_family.columns if c.startswith("points_")]
    for frame, what, needed in (
        (points_by_family, "points_by_family", keys),
        (ground_truth, "ground_truth", keys + ["churned", "primary_cause", "cause_family"]),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"cause_fidelity: {what} has no column {missing[0]!r}")
    truth = ground_truth.loc[
        ground_truth["churned"].astype(bool) & ground_truth["primary_cause"].notna(),
        keys + ["cause_family"],
    ]
    merged = truth.merge(points_by_family[keys + columns], on=keys, how="inner")
    if merged.empty:
        return float("nan")
    values = merged[columns].to_numpy(dtype=np.float64)
    families = np.array([c.removeprefix("points_") for c in columns], dtype=object)
    order = np.argsort(values, axis=1, kind="stable")[:, :3]
    top = families[order]
    hurting = np.take_along_axis(values, order, axis=1) < 0
    cause = merged["cause_family"].astype(str).to_numpy()[:, None]
    hits = ((top == cause) & hurting).any(axis=1)
    return float(hits.mean())
