"""The level of a hazard model's calibration: fitted to the latest cutoffs, and how far
it errs on a date served later (``Calibrator.level_sd``, the ARR-at-risk range's shared
shift): :func:`calibrate_hazards`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.model.calibration import Calibrator, level_spread
from healthscore.model.estimator import HealthScoreModel
from healthscore.model.exposure import (
    LEAD, Horizon, combine_hazards, fit_hazard_calibration, recency_weights, refit_hazard_level,
)


#: Replays of the calibration a fit measures its level error with, and the months
#: between them: each is fitted as known at ``recent_from - k * REPLAY_STEP_MONTHS``.
REPLAYS, REPLAY_STEP_MONTHS = 6, 3


def replayed_spread(margin: np.ndarray, lead: np.ndarray, label: np.ndarray, cutoffs: np.ndarray,
                     window: np.ndarray, lost: np.ndarray, dates: np.ndarray, *,
                     recent_from: pd.Timestamp, horizon: Horizon) -> float | None:
    """The level error of a calibration on the windows of the dates served after it.

    Replay ``k`` (0 .. :data:`REPLAYS` - 1) fits the calibration on the intervals known at
    ``T_k = recent_from - k * REPLAY_STEP_MONTHS`` (cutoffs up to ``T_k``, ended
    ``grace_days`` before it) and predicts the windows cut off in the
    :data:`REPLAY_STEP_MONTHS` up to ``T_k`` (outcomes as known now), as a served date
    would be; every date is predicted by one replay. Replays stop where ``T_k`` leaves
    less than half the history of the cutoffs given. None when fewer than two dates
    could be measured."""
    ahead = np.full(len(lost), np.nan)
    grace = np.timedelta64(horizon.grace_days, "D")
    # an interval ends just after its renewal, or at the end of the window
    span = np.minimum(np.round(lead * 365.0) + 1, horizon.lead_days + horizon.horizon_days)
    ends = cutoffs + (span * 86_400_000_000).astype("timedelta64[us]")
    # a replay with far less history than the fit it stands for would overstate its error
    least = cutoffs.min() + (cutoffs.max() - cutoffs.min()) / 2
    for k in range(REPLAYS):
        then = recent_from - pd.DateOffset(months=k * REPLAY_STEP_MONTHS)
        if np.datetime64(pd.Timestamp(then).as_unit("us")) < least:
            break
        start = np.datetime64((then - pd.DateOffset(months=REPLAY_STEP_MONTHS)).as_unit("us"))
        then = np.datetime64(pd.Timestamp(then).as_unit("us"))
        known = (cutoffs <= then) & (ends <= then - grace)
        served = (dates > start) & (dates <= then)
        if not served.any() or not 0 < label[known].sum() < known.sum():
            continue
        before = platt_hazards(margin[known], lead[known], label[known], cutoffs[known])
        ahead[served] = expit(combine_hazards(before.logit(margin, lead), window, len(lost)))[served]
    measured = ~np.isnan(ahead)
    per_date = pd.Series(lost[measured]).groupby(dates[measured]).agg(["size", "sum"])
    if ((per_date["size"] >= 200) & (per_date["sum"] >= 10)).sum() < 2:
        return None
    return level_spread(ahead[measured], lost[measured], dates[measured])


def platt_hazards(margin: np.ndarray, lead: np.ndarray, label: np.ndarray,
           cutoffs: np.ndarray | None = None) -> Calibrator:
    """The lead-aware Platt calibrator of interval hazards fitted on ``label``; with
    the intervals' ``cutoffs``, its level refitted on recency weights."""
    a, b, a_lead, b_lead = fit_hazard_calibration(margin, lead, label)
    if cutoffs is not None:
        logit = (a + a_lead * lead) * margin + b + b_lead * lead
        b += refit_hazard_level(logit, label, recency_weights(cutoffs))
    return Calibrator(method="platt", a=a, b=b, a_lead=a_lead, b_lead=b_lead)


def calibrate_hazards(fitted: HealthScoreModel, X: pd.DataFrame, rows: pd.DataFrame, *,
                      recent_from: pd.Timestamp | None = None,
                      horizon: Horizon | None = None) -> HealthScoreModel:
    """Refit a hazard model's Platt step on the outcomes of the interval ``rows``
    (features ``X``), with a slope and intercept that move with the lead
    (:func:`healthscore.model.exposure.fit_hazard_calibration`) and a level refitted on
    recency-weighted intervals (:func:`healthscore.model.exposure.refit_hazard_level`:
    the latest cutoffs are the most like a served date), and measure how far the level
    of the windows they make up (one per ``row``) errs on a date served later
    (``level_sd``); an isotonic calibrator is left as it is.

    With ``recent_from`` and the ``horizon``, the error is measured as a served date
    meets it (:func:`replayed_spread`): the calibration is refitted on the intervals
    as known at ``recent_from`` and at earlier dates, and its level error on the
    windows of the cutoffs just before each, whose outcomes are known since, is what a
    served date can expect: the drift of the
    level, the world's shared shocks over those windows and the error of the lead
    terms, sampling noise removed (:func:`healthscore.model.calibration.level_spread`).
    The larger of that and the spread across the fitted dates is kept: each sees part
    of the error (the spread no drift, the replays few independent windows); without
    ``recent_from`` and ``horizon`` (or too few replayed windows), the spread alone."""
    if fitted.calibrator_.method != "platt":
        return fitted
    label = rows["label"].to_numpy(np.float64)
    margin, lead = fitted.predict_margin(X), X[LEAD].to_numpy(np.float64) / 365.0
    cutoffs = rows["cutoff_time"].to_numpy("datetime64[us]")
    calibrator = platt_hazards(margin, lead, label, cutoffs)
    window = pd.factorize(rows["row"])[0]
    lost = np.bincount(window, weights=label) > 0
    dates = rows.groupby(window)["cutoff_time"].first().to_numpy("datetime64[us]")
    risk = expit(combine_hazards(calibrator.logit(margin, lead), window, len(lost)))
    spread = level_spread(risk, lost, dates)
    if recent_from is not None and horizon is not None:
        replayed = replayed_spread(margin, lead, label, cutoffs, window, lost, dates,
                                    recent_from=pd.Timestamp(recent_from), horizon=horizon)
        spread = spread if replayed is None else max(spread, replayed)
    fitted.calibrator_ = dataclasses.replace(calibrator, level_sd=spread)
    return fitted
