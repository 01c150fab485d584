"""An account's lifecycle stage at a cutoff: ``trial``, ``onboarding`` or ``mature``.

From facts strictly before the cutoff only, as every feature: the tenure
(``accounts__tenure_days``, :mod:`healthscore.features.subscriptions`) and the MRR the
account holds then. ``params.lifecycle`` (:class:`~healthscore.config.lifecycle.LifecycleParams`)
sets the thresholds. The stage is shown beside the score and groups the backtest's
metrics; it is not a model input (the tenure is).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from healthscore.config.lifecycle import LifecycleParams
from healthscore.errors import DataError

#: The stages, youngest first.
STAGES = ("trial", "onboarding", "mature")
UNKNOWN = "unknown"
#: The feature the stage is read from.
TENURE = "accounts__tenure_days"
#: The risk list's column.
STAGE_COLUMN = "lifecycle_stage"


def lifecycle_stage(tenure_days: Any, mrr: Any = None, *, params: LifecycleParams) -> np.ndarray:
    """The stage of each row (object array of :data:`STAGES` or ``unknown``).

    Parameters
    ----------
    tenure_days : array-like, shape (n,)
        Days from the account's start to the cutoff (NaN: unknown).
    mrr : array-like, shape (n,), optional
        MRR held at the cutoff; only read when ``params.trial_max_mrr`` is set.
    params : LifecycleParams
        ``onboarding_days``: younger is onboarding (strictly below).
    """
    tenure = np.asarray(tenure_days, dtype=np.float64)
    out = np.full(tenure.shape, UNKNOWN, dtype=object)
    known = ~np.isnan(tenure)
    young = known & (tenure < params.onboarding_days)
    out[known] = "mature"
    out[young] = "onboarding"
    if params.trial_max_mrr is not None and mrr is not None:
        paid = np.asarray(mrr, dtype=np.float64)
        out[young & ~np.isnan(paid) & (paid <= params.trial_max_mrr)] = "trial"
    return out


def stage_of_rows(frame: pd.DataFrame, *, params: LifecycleParams, mrr: Any = None,
                  what: str = "features") -> np.ndarray:
    """:func:`lifecycle_stage` of a feature frame's rows (its ``accounts__tenure_days``).

    Raises
    ------
    DataError
        ``frame`` has no tenure column (no ``subscriptions`` table was read?).
    """
    if TENURE not in frame.columns:
        raise DataError(f"{what}: no column {TENURE!r}, which the lifecycle stage is read from "
                        f"(columns: {', '.join(map(str, list(frame.columns)[:5]))}, ...); "
                        "expected the features of healthscore.features.build_features")
    return lifecycle_stage(frame[TENURE].to_numpy(dtype=np.float64, na_value=np.nan), mrr, params=params)


_SPAN = re.compile(r"^(\d+)d(?:_vs_prev_(\d+)d)?$")
#: Windowed features already scaled to the account's age: never masked.
_SCALED = ("count_tenure_scaled", "first_days_count")


def window_span_days(name: str) -> int | None:
    """The days back a windowed feature reads (``w`` for ``..__<w>d``, ``2w`` for a
    trend ``..__<w>d_vs_prev_<w>d``); None for any other name or an age-scaled one."""
    parts = name.split("__")
    match = _SPAN.match(parts[-1]) if len(parts) >= 3 else None
    if match is None or any(p in _SCALED for p in parts[1:-1]):
        return None
    return int(match.group(1)) + int(match.group(2) or 0)


def mask_unlived_windows(frame: pd.DataFrame, names: Any = None) -> pd.DataFrame:
    """A copy of a feature frame where a windowed feature whose window reaches back
    before the account's start (``accounts__tenure_days`` below its span) is NaN: a
    30-day-old account has no 90-day count to be judged on, rather than a low one.

    ``names``: the columns to consider (default: every column); rows whose tenure is
    unknown are left as they are.
    """
    tenure = frame[TENURE].to_numpy(dtype=np.float64, na_value=np.nan) if TENURE in frame else None
    out = frame.copy()
    if tenure is None:
        return out
    for name in (frame.columns if names is None else names):
        span = window_span_days(str(name))
        if span is None or not pd.api.types.is_float_dtype(frame[name]):
            continue
        young = tenure < span
        if young.any():
            column = out[name].to_numpy(dtype=np.float64, copy=True)
            column[young] = np.nan
            out[name] = column
    return out
