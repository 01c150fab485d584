"""Whom a play helps: a T-learner over the features, and how to score a ranking by it.

A play's accounts are split at random into the ``task`` arm and the ``holdout`` arm
(:mod:`healthscore.plays.assign`), so two churn classifiers over the same features, one
fitted on each arm, estimate for any account the chance of being lost within the
horizon with the play (``mu_task``) and without it (``mu_holdout``); their difference
``mu_holdout - mu_task`` is the play's expected benefit for that account (accounts
saved per account treated), and ranking by it rather than by risk aims the play at the
accounts it changes (Kunzel et al. 2019, "Metalearners for estimating heterogeneous
treatment effects"). Each classifier is the churn model itself
(:class:`healthscore.model.HealthScoreModel`: LightGBM, early stopping and Platt
calibration on a seeded hold-out of its own arm), so the two predicted churn
probabilities are on one scale.

A ranking is scored on accounts neither model saw, from their observed outcomes:

* :func:`uplift_at_k`: churn held out minus churn treated among the top share ``k``;
* :func:`qini_curve` / :func:`qini_coefficient`: accounts saved in the top ``n``
  (held-out losses scaled to the treated count, minus treated losses) and the area
  between that curve and the random ranking's straight line, per account (Radcliffe
  2007), so 0 is no better than random.

The time rule holds as for the churn model: the features of an assignment are built
strictly before its date, its outcome is read after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from healthscore.errors import DataError, ModelError
from healthscore.plays.assign import ARM_HOLDOUT, ARM_TASK


def _flags(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{name}: expected one value per account, got shape {arr.shape}")
    if arr.dtype.kind in "OUS":
        bad = ~np.isin(arr, (ARM_TASK, ARM_HOLDOUT))
        if bad.any():
            raise DataError(f"{name}: {arr[bad][0]!r} is neither {ARM_TASK!r} nor {ARM_HOLDOUT!r} "
                            f"(row {int(np.flatnonzero(bad)[0])})")
        return arr == ARM_TASK
    out = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy("float64")
    bad = ~np.isin(out, (0.0, 1.0))
    if bad.any():
        value = arr[bad][0]
        value = value.item() if hasattr(value, "item") else value
        raise DataError(f"{name}: {value!r} at row {int(np.flatnonzero(bad)[0])}, expected 0 or 1")
    return out == 1.0


class TLearner:
    """Two churn models, one per arm of a play; the uplift is their difference.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, max_depth, min_child_samples : LightGBM
        settings of both models (:class:`~healthscore.model.HealthScoreModel`).
    early_stopping_rounds : int
        Stop when the log loss on the arm's own seeded hold-out has not improved for
        this many rounds.
    holdout_share : float
        Share of each arm kept for early stopping and calibration.
    random_state : int
        Seed of both models.
    n_jobs : int
        LightGBM threads.

    Attributes
    ----------
    model_task_, model_holdout_ : HealthScoreModel
        The churn model of the treated accounts and of the held-out ones.
    feature_names_ : list of str
    """

    def __init__(self, *, n_estimators: int = 400, learning_rate: float = 0.05, num_leaves: int = 7,
                 max_depth: int = 3, min_child_samples: int = 30, early_stopping_rounds: int = 50,
                 holdout_share: float = 0.25, random_state: int = 0, n_jobs: int = 1) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.holdout_share = holdout_share
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _model(self):
        from healthscore.model import HealthScoreModel

        return HealthScoreModel(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            max_depth=self.max_depth, min_child_samples=self.min_child_samples,
            early_stopping_rounds=self.early_stopping_rounds, holdout_share=self.holdout_share,
            random_state=self.random_state, n_jobs=self.n_jobs)

    def fit(self, X: pd.DataFrame, treated: Any, lost: Any) -> "TLearner":
        """Fit one churn model per arm.

        Parameters
        ----------
        X : DataFrame, shape (n, p)
            Features at each account's assignment (built strictly before its date).
        treated : array of shape (n,)
            1 / ``"task"``: the account got the play; 0 / ``"holdout"``: held out.
        lost : array of shape (n,)
            1: lost within the horizon after the assignment; 0: not (matured outcomes only).

        Raises
        ------
        DataError
            Shapes disagree, a flag is not 0/1 (or an arm name), or an arm has fewer
            than 20 accounts or no loss to learn from.
        """
        if not isinstance(X, pd.DataFrame):
            raise DataError("uplift model: X must be a DataFrame of features")
        t, y = _flags(treated, "treated"), _flags(lost, "lost")
        if not len(t) == len(y) == len(X):
            raise DataError(f"uplift model: X has {len(X)} rows, treated {len(t)}, lost {len(y)}")
        for name, mask in ((ARM_TASK, t), (ARM_HOLDOUT, ~t)):
            if mask.sum() < 20 or y[mask].sum() == 0 or y[mask].all():
                raise DataError(f"uplift model: the {name} arm has {int(mask.sum())} accounts with "
                                f"{int(y[mask].sum())} lost; each arm needs at least 20 accounts and "
                                "both outcomes")
        self.feature_names_ = list(X.columns)
        self.model_task_ = self._model().fit(X.loc[t], y[t].astype(int))
        self.model_holdout_ = self._model().fit(X.loc[~t], y[~t].astype(int))
        return self

    def _check(self, X: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "model_task_"):
            raise ModelError("uplift model: not fitted; call fit first")
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            raise DataError(f"uplift model: feature {missing[0]!r} is missing ({len(missing)} in all)")
        return X.loc[:, self.feature_names_]

    def predict_churn(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(mu_task, mu_holdout)``: each account's chance of being lost within the
        horizon with the play and without it, shape (n,) each."""
        X = self._check(X)
        return self.model_task_.predict_risk(X), self.model_holdout_.predict_risk(X)

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """The play's expected benefit per account: ``mu_holdout - mu_task`` (accounts
        saved per account treated, in [-1, 1]; rank by it, highest first)."""
        task, holdout = self.predict_churn(X)
        return holdout - task


def _ranked(score: Any, treated: Any, lost: Any, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(score, dtype="float64")
    t, y = _flags(treated, "treated"), _flags(lost, "lost")
    if not len(s) == len(t) == len(y):
        raise DataError(f"uplift evaluation: score has {len(s)} values, treated {len(t)}, lost {len(y)}")
    if np.isnan(s).any():
        raise DataError(f"uplift evaluation: score is NaN at row {int(np.flatnonzero(np.isnan(s))[0])}")
    # highest score first; ties in a seeded random order, so a constant score is random
    tie = np.random.default_rng(random_state).permutation(len(s))
    order = np.lexsort((tie, -s))
    return t[order], y[order]


def qini_curve(score: Any, treated: Any, lost: Any, *, random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The Qini curve of a ranking: ``(share, saved)``, both of shape (n + 1,).

    ``saved[i]``: accounts saved among the top ``i`` by ``score`` (highest first):
    held-out losses there scaled to the treated count, minus treated losses
    (``L_h * N_t / N_h - L_t``; 0 while no held-out account is in), per account of the
    whole set; ``share[i] = i / n``.
    """
    t, y = _ranked(score, treated, lost, random_state)
    n_t, n_h = np.cumsum(t), np.cumsum(~t)
    l_t, l_h = np.cumsum(y & t), np.cumsum(y & ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        saved = np.where(n_h > 0, l_h * n_t / np.maximum(n_h, 1), 0.0) - l_t
    n = len(t)
    return np.arange(n + 1) / n, np.concatenate([[0.0], saved / n])


def qini_coefficient(score: Any, treated: Any, lost: Any, *, random_state: int = 0) -> float:
    """The area between the Qini curve and the random ranking's straight line from 0
    to the curve's end, per account (trapezoids over the ``n`` steps): > 0 aims the
    play better than chance."""
    share, saved = qini_curve(score, treated, lost, random_state=random_state)
    area = float(np.sum((saved[1:] + saved[:-1]) / 2 * np.diff(share)))
    return area - saved[-1] / 2


def uplift_at_k(score: Any, treated: Any, lost: Any, *, k: float, random_state: int = 0) -> float:
    """Churn held out minus churn treated among the top share ``k`` of accounts by
    ``score`` (accounts saved per account treated there; NaN when an arm is empty)."""
    if not 0 < k <= 1:
        raise DataError(f"uplift evaluation: k={k!r}, expected a share in (0, 1]")
    t, y = _ranked(score, treated, lost, random_state)
    top = max(1, int(round(k * len(t))))
    t, y = t[:top], y[:top]
    if not t.any() or t.all():
        return float("nan")
    return float(y[~t].mean() - y[t].mean())
