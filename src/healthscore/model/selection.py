"""Small-data learning: the prepared logistic regression, the inner comparison of
LightGBM, logistic regression and the rule scorecard, and what to expect (issue 15).

Every choice here is made on validation rows only: the inner time-ordered folds of the
training part (:mod:`healthscore.model.inner_cv`) when churned rows are few, else the
validation window. The test window is never seen.

The comparison: each candidate's out-of-fold prediction on the inner validation blocks
(LightGBM's raw margin at the tree count chosen by the same folds, the logistic
regression's logit with its settings chosen by them, the scorecard's negated health
score, and the blend of LightGBM and the scorecard with the share chosen by them); the
winner has the highest mean ROC-AUC over the blocks, each block weighted by the churned
rows its fit part learned from (:func:`~healthscore.model.inner_cv.block_weights`).
Each can be exported; the logistic regression as a
:class:`~healthscore.model.predictor.LogisticPredictor` (:func:`served_logistic`).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from healthscore.model.logistic import LogisticBaseline
from healthscore.model.inner_cv import block_weights, oof_mask

log = logging.getLogger(__name__)

#: LightGBM's share of the blend's standardised mix: the grid the inner folds choose
#: from (0 and 1 are the scorecard and LightGBM alone).
BLEND_SHARES = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))

#: Measured on four draws of fightchurn's socialnet7 (benchmarks/results/quality.md,
#: sections ``socialnet7`` and ``socialnet7-seed3`` .. ``-seed5``: TimeSeriesSplit(5),
#: inner folds, test folds only; recorded 2026-12-07): (draw, churned rows in the
#: training part, test ROC-AUC of what the selection served, of LightGBM, of the rule
#: scorecard) per fold. The same training size gave 0.79 on one draw and 0.66 on another.
MEASURED: tuple[tuple[str, int, float, float, float], ...] = (
    ("socialnet7-dev", 37, 0.699, 0.648, 0.700), ("socialnet7-dev", 77, 0.746, 0.759, 0.720),
    ("socialnet7-dev", 106, 0.738, 0.738, 0.676), ("socialnet7-dev", 126, 0.793, 0.793, 0.737),
    ("socialnet7 seed 3", 38, 0.719, 0.714, 0.719), ("socialnet7 seed 3", 79, 0.651, 0.649, 0.623),
    ("socialnet7 seed 3", 99, 0.702, 0.701, 0.665), ("socialnet7 seed 3", 129, 0.657, 0.492, 0.530),
    ("socialnet7 seed 4", 33, 0.813, 0.759, 0.819), ("socialnet7 seed 4", 72, 0.735, 0.693, 0.730),
    ("socialnet7 seed 4", 118, 0.643, 0.646, 0.621), ("socialnet7 seed 4", 149, 0.688, 0.688, 0.667),
    ("socialnet7 seed 5", 36, 0.687, 0.688, 0.774), ("socialnet7 seed 5", 72, 0.699, 0.637, 0.698),
    ("socialnet7 seed 5", 104, 0.645, 0.617, 0.644), ("socialnet7 seed 5", 137, 0.700, 0.654, 0.689))


def fit_logistic(X: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], *,
                 cs: list[float], transforms: list[str], group_above: float = 0.0,
                 refit: np.ndarray | None = None) -> tuple[LogisticBaseline, np.ndarray, pd.DataFrame]:
    """The L1 logistic regression whose ``C`` and transform win on ``folds``.

    Parameters
    ----------
    X, y : the training part (features, 0/1 labels).
    folds : (fit, validate) boolean masks over its rows.
    cs, transforms : the grid (``params.small_data``).
    refit : boolean mask, optional
        Rows the chosen settings are refitted on (default: every row).

    Returns
    -------
    (LogisticBaseline, ndarray of shape (n,), DataFrame)
        The refitted regression; the chosen settings' out-of-fold logit (NaN outside the
        validation blocks); one row per setting with its mean inner ROC-AUC.
    """
    rows, best, best_auc, best_oof = [], None, -np.inf, None
    for transform, C in itertools.product(transforms, cs):
        oof = np.full(len(y), np.nan)
        aucs = []
        for fit, val in folds:
            model = LogisticBaseline(C=C, penalty="l1", transform=transform,
                                     group_above=group_above).fit(X.loc[fit], y[fit])
            oof[val] = logit_of(model.predict_risk(X.loc[val]))
            aucs.append(_auc(y[val], oof[val]))
        auc = float(np.nanmean(aucs))
        rows.append({"transform": transform, "C": C, "inner_roc_auc": auc})
        if auc > best_auc + 1e-9:  # ties: the earlier (stronger penalty, simpler) one
            best, best_auc, best_oof = (transform, C), auc, oof
    transform, C = best
    mask = np.ones(len(y), dtype=bool) if refit is None else refit
    model = LogisticBaseline(C=C, penalty="l1", transform=transform,
                             group_above=group_above).fit(X.loc[mask], y[mask])
    return model, best_oof, pd.DataFrame(rows)


@dataclass(frozen=True)
class Selection:
    """The inner comparison: ``table`` (one row per candidate: ``predictor``,
    ``roc_auc`` mean over the blocks, ``pooled_roc_auc``, ``top_decile_lift``,
    ``rows``, ``churned``, ``blocks``), the ``winner``, the ``exported`` predictor (the winner) and
    ``reason`` in words."""

    table: pd.DataFrame
    winner: str
    reason: str

    @property
    def exported(self) -> str:
        """What ``train`` exports: the winner (every candidate can be served)."""
        return self.winner


def select_predictor(y: np.ndarray, oof: dict[str, np.ndarray],
                     folds: list[tuple[np.ndarray, np.ndarray]], *, where: str,
                     margin: float = 0.0) -> Selection:
    """Rank candidates by mean ROC-AUC over the validation blocks of ``folds`` (weighted
    by :func:`~healthscore.model.inner_cv.block_weights`); another candidate displaces
    LightGBM (whose drivers explain each account) only by more than ``margin``
    (``small_data.min_auc_gain``)."""
    has = oof_mask(folds, len(y))
    weights = block_weights(folds, y)
    rows = []
    for name, values in oof.items():
        aucs = [_auc(y[val], values[val]) for _, val in folds]
        rows.append({"predictor": name, "roc_auc": weighted_mean(aucs, weights),
                     "pooled_roc_auc": _auc(y[has], values[has]),
                     "top_decile_lift": _lift(y[has], values[has]),
                     "rows": int(has.sum()), "churned": int(y[has].sum()), "blocks": len(folds)})
    table = pd.DataFrame(rows).sort_values("roc_auc", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    winner = str(table.loc[0, "predictor"])
    aucs = table.set_index("predictor")["roc_auc"]
    tied = winner != "lightgbm" and "lightgbm" in aucs and aucs[winner] - aucs["lightgbm"] <= margin
    if tied:
        winner = "lightgbm"
    others = ", ".join(f"{r.predictor} {r.roc_auc:.3f}" for r in table.itertuples()
                       if r.predictor != winner)
    reason = (f"{winner} won on {where}: mean ROC-AUC {aucs[winner]:.3f} against "
              f"{others} ({table.loc[0, 'rows']:,} rows, {table.loc[0, 'churned']:,} churned, "
              f"{len(folds)} block(s))")
    if tied:
        reason += (f"; {table.loc[0, 'predictor']} is ahead by {table.loc[0, 'roc_auc'] - aucs['lightgbm']:.4f}, "
                   f"not more than small_data.min_auc_gain {margin:g}")
    return Selection(table, winner, reason)


def weighted_mean(values: Any, weights: np.ndarray) -> float:
    """Mean of ``values`` weighted by ``weights``, NaN values left out (NaN if all are)."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.isnan(values)
    if not keep.any():
        return float("nan")
    return float(np.average(values[keep], weights=np.asarray(weights)[keep]))


@dataclass(frozen=True)
class Blend:
    """The blend the inner folds chose: the served ``predictor``, LightGBM's ``share``,
    ``oof`` (the blocks' mixed out-of-fold scores, NaN outside them), ``oof_risk``
    (their Platt risk) and ``grid`` (the weighted mean inner ROC-AUC of each share)."""

    predictor: Any
    share: float
    oof: np.ndarray
    oof_risk: np.ndarray
    grid: pd.DataFrame


def fit_blend(model: Any, card: Any, X: pd.DataFrame, y: np.ndarray,
              folds: list[tuple[np.ndarray, np.ndarray]]) -> Blend:
    """Mix LightGBM's margin and the scorecard's score with the share the inner folds
    prefer.

    On each validation block, the inner booster's out-of-fold margin and the
    scorecard's negated score are standardised within the block (the inner boosters'
    margins are on different scales) and mixed as ``share * margin + (1 - share) *
    rules``; the share with the highest weighted mean ROC-AUC over the blocks
    (:data:`BLEND_SHARES`) wins, ties to the larger share. Platt's slope is fitted on
    the blocks' mixes; the served mix standardises the refitted booster's margins and
    the rules' scores on the whole part, and the intercept matches the part's churn
    rate (:func:`~healthscore.model.calibration.matching_intercept`, as the booster's
    own calibration does).

    ``model`` is the refitted :class:`~healthscore.model.estimator.HealthScoreModel`
    (with ``oof_margin_`` from ``folds``), ``card`` the fitted scorecard.
    """
    from scipy.special import expit

    from healthscore.model.calibration import fit_platt, matching_intercept
    from healthscore.model.predictor import BlendPredictor

    def standard(v, ref):
        sd = float(np.std(ref))
        return (v - float(np.mean(ref))) / (sd if sd > 0 else 1.0)

    rules = -card.unclipped_score(X)
    blocks = [(val, standard(model.oof_margin_[val], model.oof_margin_[val]),
               standard(rules[val], rules[val])) for _, val in folds]
    weights = block_weights(folds, y)
    aucs = [weighted_mean([_auc(y[val], w * m + (1 - w) * r) for val, m, r in blocks], weights)
            for w in BLEND_SHARES]
    grid = pd.DataFrame({"share": BLEND_SHARES, "inner_roc_auc": aucs})
    best = max(range(len(BLEND_SHARES)), key=lambda i: (round(aucs[i], 9), i))
    share = float(BLEND_SHARES[best])
    oof = np.full(len(y), np.nan)
    for val, m, r in blocks:
        oof[val] = share * m + (1 - share) * r
    has = ~np.isnan(oof)
    slope, oof_intercept = fit_platt(oof[has], y[has], what="blend's mix")
    oof_risk = np.full(len(y), np.nan)
    oof_risk[has] = expit(slope * oof[has] + oof_intercept)
    margin = model.predict_margin(X[model.feature_names_])
    mix = share * standard(margin, margin) + (1 - share) * standard(rules, rules)
    intercept = matching_intercept(slope, mix, y)
    sd_m = float(np.std(margin)) or 1.0
    sd_r = float(np.std(rules)) or 1.0
    margin_coef = slope * share / sd_m
    card_coef = -slope * (1 - share) / sd_r  # on the card's score, not its negation
    predictor = BlendPredictor(
        model, card, margin_coef=margin_coef, card_coef=card_coef, share=share,
        intercept=intercept - margin_coef * float(np.mean(margin))
        - card_coef * float(np.mean(-rules)))
    return Blend(predictor, share, oof, oof_risk, grid)


def expectation(churned: int) -> str:
    """What to expect from a model at ``churned`` churned training rows, from
    :data:`MEASURED` (the nearest measured fold of each draw), in words."""
    draws = list(dict.fromkeys(m[0] for m in MEASURED))
    if not draws:
        return ""
    near = [min((m for m in MEASURED if m[0] == draw), key=lambda m: abs(m[1] - churned)) for draw in draws]
    text = "; ".join(f"{draw}, {n} churned rows: selected {s:.2f}, LightGBM {a:.2f}, scorecard {c:.2f}"
                     for draw, n, s, a, c in near)
    return f"test ROC-AUC of measured folds with a similar training part ({text})"


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    y = np.asarray(y)
    if len(np.unique(y)) < 2 or np.isnan(score).any():
        return float("nan")
    return float(roc_auc_score(y, score))


def _lift(y: np.ndarray, score: np.ndarray) -> float:
    if len(y) == 0 or y.sum() == 0:
        return float("nan")
    top = np.argsort(-score, kind="stable")[: max(1, int(np.ceil(0.1 * len(y))))]
    return float(y[top].mean() / y.mean())


@dataclass
class SmallDataFit:
    """The candidates fitted on one training part and their inner comparison."""

    model: Any
    logistic: LogisticBaseline
    card: Any
    selection: Selection
    logistic_grid: pd.DataFrame
    oof: dict[str, np.ndarray]  # each candidate's out-of-fold score (NaN outside the blocks)
    folds: list[tuple[np.ndarray, np.ndarray]]  # the inner (fit, validate) masks they came from
    blend: Blend | None = None  # None when small_data.blend is off
    X: pd.DataFrame | None = None  # the part's features and labels (the served calibration)
    y: np.ndarray | None = None

    def exported_predictor(self) -> Any:
        """The predictor the selection exports."""
        if self.selection.exported == "logistic":
            return served_logistic(self.logistic, self.oof["logistic"], self.y, folds=self.folds, X=self.X)
        return {"lightgbm": self.model, "scorecard": self.card,
                "blend": self.blend.predictor if self.blend is not None else None}[self.selection.exported]


def served_logistic(regression: LogisticBaseline, held_out_logit: np.ndarray, y: np.ndarray, *,
                    folds: list[tuple[np.ndarray, np.ndarray]] | None = None,
                    X: pd.DataFrame | None = None) -> Any:
    """The logistic regression as served: Platt's step on held-out logits.

    Large data (no ``folds``): ``held_out_logit`` and ``y`` are the validation window's,
    the regression the one that scored them. Small data: ``held_out_logit`` is the
    inner folds' out-of-fold logit over the part ``X``, ``y`` (NaN outside the blocks),
    the slope is fitted within the blocks and the level matched on the refitted
    regression's own logits of the part (:func:`~healthscore.model.inner_cv.oof_calibrator`,
    as LightGBM's calibration is)."""
    from healthscore.model.calibration import fit_platt
    from healthscore.model.inner_cv import oof_calibrator
    from healthscore.model.predictor import LogisticPredictor

    if folds is None:
        slope, intercept = fit_platt(held_out_logit, y, what="logistic regression's logit")
    else:
        calibrator = oof_calibrator(held_out_logit, y, folds,
                                    refit_margin=regression.predict_logit(X), method="platt")
        slope, intercept = calibrator.a, calibrator.b
    return LogisticPredictor(regression, slope=slope, intercept=intercept)


def fit_small_data(part: pd.DataFrame, names: list[str], *, model: Any, calibration: Any,
                   card: Any, small_data: Any) -> SmallDataFit:
    """Fit LightGBM, the logistic regression and the scorecard on a small training part
    (train and validation windows together) and compare them on its inner folds.

    ``part`` holds ``names``, ``label`` and ``cutoff_time``; ``card`` is an unfitted
    :class:`~healthscore.model.baselines.RuleScorecard`; ``model``, ``calibration`` and
    ``small_data`` are params sections.
    """
    from healthscore.errors import InsufficientDataError
    from healthscore.model.estimator import HealthScoreModel
    from healthscore.model.inner_cv import inner_time_folds

    y = part["label"].to_numpy(dtype=np.int64)
    cutoffs = part["cutoff_time"].to_numpy()
    X = part[names].reset_index(drop=True)
    folds = inner_time_folds(cutoffs, y, n_folds=small_data.inner_folds)
    if not folds:
        raise InsufficientDataError(
            f"training part: {int(y.sum())} churned row(s) out of {len(y)}; none of the "
            f"{small_data.inner_folds} inner folds (params.small_data.inner_folds) has churned "
            "and retained rows on both sides. Use the rule scorecard: healthscore train --mode scorecard")
    fitted = HealthScoreModel.from_params(model, calibration, inner_folds=small_data.inner_folds)
    fitted.fit(X, y, cutoffs=cutoffs)
    logistic, logistic_oof, grid = fit_logistic(
        X, y, folds, cs=list(small_data.logistic_cs), transforms=list(small_data.logistic_transforms),
        group_above=small_data.group_above)
    card = card.fit(X, y)
    oof = {"lightgbm": fitted.oof_margin_, "logistic": logistic_oof,
           "scorecard": -card.health_score(X).astype(np.float64)}  # fixed rules: no fit to leak
    blend = fit_blend(fitted, card, X, y, folds) if small_data.blend else None
    if blend is not None and 0 < blend.share < 1:  # at 0 or 1 it is one of the others
        oof["blend"] = blend.oof
    selection = select_predictor(y, oof, folds, where="the inner time-ordered folds of the training part",
                                 margin=small_data.min_auc_gain)
    if "blend" in oof:
        selection = dataclasses.replace(selection, reason=selection.reason + (
            f"; the blend mixes LightGBM's margin and the scorecard's score, standardised, "
            f"at LightGBM's share {blend.share:.1f} (chosen by the same folds)"))
    return SmallDataFit(fitted, logistic, card, selection, grid, oof, folds, blend, X, y)


def select_on_validation(y_val: np.ndarray, scores: dict[str, np.ndarray], *,
                         margin: float = 0.0) -> Selection:
    """The comparison on the validation window (large data: LightGBM stopped early on it)."""
    every = np.ones(len(y_val), dtype=bool)
    return select_predictor(np.asarray(y_val, dtype=np.int64), scores, [(~every, every)],
                            where="the validation window", margin=margin)


def prepared_logistic(X_train, y_train, X_val, y_val, small_data) -> LogisticBaseline:
    """The L1 logistic regression whose settings win on the validation window, fitted on
    the training window (large data; small data refits it by inner folds)."""
    if len(np.unique(y_train)) < 2 or len(np.unique(y_val)) < 2:
        return LogisticBaseline().fit(X_train, y_train)
    both = pd.concat([X_train, X_val], ignore_index=True)
    is_train = np.arange(len(both)) < len(X_train)
    model, _, _ = fit_logistic(both, np.concatenate([y_train, y_val]), [(is_train, ~is_train)],
                               cs=list(small_data.logistic_cs), refit=is_train,
                               transforms=list(small_data.logistic_transforms),
                               group_above=small_data.group_above)
    return model


def inner_metrics(inner: Any, part: pd.DataFrame, base_rate: Any, *, n_bins: int) -> pd.DataFrame:
    """Validation metrics of a small-data fit: each candidate's calibrated out-of-fold
    risk on the inner validation blocks (the rows it was judged on)."""
    from scipy.special import expit

    from healthscore.model.evaluation import metrics_table

    has = ~np.isnan(inner.model.oof_margin_)
    X = part.iloc[np.flatnonzero(has)]
    risks = {"model": inner.model.calibrator_.proba(inner.model.oof_margin_[has]),
             "logistic": expit(inner.oof["logistic"][has]),
             "scorecard": inner.card.predict_risk(X), "base_rate": base_rate.predict_risk(X)}
    if inner.blend is not None and "blend" in inner.oof:
        risks["blend"] = inner.blend.oof_risk[has]
    return metrics_table(part["label"].to_numpy(dtype=np.int64)[has], risks, n_bins=n_bins)


def logit_of(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))
