"""The level of a hazard model's calibration: fitted to the latest cutoffs, and how far
it errs on a date served later (``Calibrator.level_sd``, the ARR-at-risk range's shared
shift). Used by :func:`healthscore.model.training.calibrate_hazards`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from healthscore.model.calibration import Calibrator, level_spread
from healthscore.model.exposure import (
    Horizon, combine_hazards, fit_hazard_calibration, recency_weights, refit_hazard_level,
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
