"""Time-ordered folds inside a training part: the validation of small-data learning.

With 50-300 churned rows, one latest window holds too few churned rows to stop the
boosting or to fit a calibration on (socialnet7-dev: 9-100 churned rows per window, and
1-44 trees). Expanding-window folds over the training part's cutoff days instead give
every later day one out-of-fold prediction from a fit on earlier days only, so the
choice is made on several windows and never on rows later than the training part.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sklearn.model_selection import TimeSeriesSplit

from healthscore.errors import DataError
from healthscore.model.calibration import Calibrator, fit_calibrator, matching_intercept


def inner_time_folds(cutoffs: Any, y: Any, *, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window ``(fit, validate)`` boolean masks over whole cutoff days.

    Parameters
    ----------
    cutoffs : array of shape (n,)
        Each row's ``cutoff_time`` (any order).
    y : array of shape (n,)
        0/1 labels; a fold whose fit or validation rows lack a class is dropped.
    n_folds : int
        ``TimeSeriesSplit`` splits of the sorted unique cutoff days: fold ``k`` fits
        on the days before its block and validates on the block.

    Returns
    -------
    list of (ndarray of bool, ndarray of bool)
        Oldest first; every validation day is later than every fit day of its fold.
    """
    cutoffs = np.asarray(cutoffs)
    y = np.asarray(y)
    if len(cutoffs) != len(y):
        raise DataError(f"inner folds: {len(cutoffs)} cutoff(s) but {len(y)} label(s)")
    days = np.unique(cutoffs)
    if len(days) <= n_folds:
        return []
    out = []
    for fit_days, val_days in TimeSeriesSplit(n_splits=n_folds).split(days):
        fit, val = np.isin(cutoffs, days[fit_days]), np.isin(cutoffs, days[val_days])
        if len(np.unique(y[fit])) == 2 and len(np.unique(y[val])) == 2:
            out.append((fit, val))
    return out


def oof_mask(folds: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """Rows that get an out-of-fold prediction (in some fold's validation block)."""
    mask = np.zeros(n, dtype=bool)
    for _, val in folds:
        mask |= val
    return mask


def cv_tree_count(
    params: dict[str, Any],
    matrix: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    rounds: int,
    feature_names: list[str],
    categorical: list[int],
) -> tuple[int, np.ndarray, np.ndarray]:
    """The tree count that minimises the inner folds' pooled validation log loss.

    Each fold's booster runs ``rounds`` rounds (no early stopping) and records its
    validation log loss after every tree; the curves are averaged, weighted by the
    fold's validation rows, and the argmin is the count.

    Returns
    -------
    (int, ndarray of shape (n,), ndarray of shape (rounds,))
        The count; each row's out-of-fold raw margin at that count (NaN for rows in no
        validation block: the earliest days); the averaged curve.
    """
    import lightgbm as lgb

    curves, weights, boosters = [], [], []
    for fit, val in folds:
        record: dict[str, Any] = {}
        dtrain = lgb.Dataset(matrix[fit], label=y[fit], feature_name=list(feature_names),
                             categorical_feature=categorical, params={"verbosity": -1})
        dval = lgb.Dataset(matrix[val], label=y[val], reference=dtrain)
        booster = lgb.train(params, dtrain, num_boost_round=int(rounds), valid_sets=[dval],
                            valid_names=["inner"], callbacks=[lgb.record_evaluation(record)])
        curves.append(np.asarray(record["inner"]["binary_logloss"], dtype=np.float64))
        weights.append(float(val.sum()))
        boosters.append(booster)
    curve = np.average(np.vstack(curves), axis=0, weights=weights)
    best = int(np.argmin(curve)) + 1
    oof = np.full(len(y), np.nan)
    for (_, val), booster in zip(folds, boosters):
        oof[val] = booster.predict(matrix[val], num_iteration=best, raw_score=True,
                                   num_threads=int(params.get("num_threads", 1)))
    return best, oof, curve


def oof_calibrator(oof_margin: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], *,
                   refit_margin: np.ndarray, method: str) -> Calibrator:
    """The calibration of a booster refitted on all rows: fitted on the inner folds'
    out-of-fold margins (one block per fold), its intercept then matched to the refitted
    booster's own margins ``refit_margin`` (its level)."""
    block = np.full(len(y), -1)
    for number, (_, val) in enumerate(folds):
        block[val] = number
    has = block >= 0
    calibrator = fit_calibrator(oof_margin[has], y[has], method=method, blocks=block[has])
    return dataclasses.replace(calibrator, b=matching_intercept(calibrator.a, refit_margin, y))


def block_weights(folds: list[tuple[np.ndarray, np.ndarray]], y: Any) -> np.ndarray:
    """Each validation block's weight in a mean over blocks: the churned rows its fit
    part learned from, normalised to sum to 1 (equal weights when no fit part has any).

    The model finally served learns from the whole training part, more than any inner
    fit; a block whose model learned from more churned rows is the nearer evidence of
    it. On socialnet7-dev's inner folds LightGBM's block ROC-AUC climbs with its fit
    part (0.61 at 3 churned fit rows, 0.74 at 57) while the fixed rules' stays flat
    (0.68-0.71), so equal weights understate a learner against the rules."""
    y = np.asarray(y)
    churned = np.array([float(y[fit].sum()) for fit, _ in folds])
    if len(churned) == 0:
        return churned
    if churned.sum() <= 0:
        return np.full(len(churned), 1.0 / len(churned))
    return churned / churned.sum()
