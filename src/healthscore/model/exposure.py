"""One risk for every contract length: a discrete-time hazard over the renewal calendar.

The served ``risk_proba`` is the chance that an account is lost within the outcome
window ``[a, a + horizon)``, ``a = t + lead``, after its cutoff ``t`` (default: the
next 365 days), whatever its contract length. An account is lost when a contract ends
and nothing follows, so the calendar known at the cutoff, the contract's end
(``renewal_date``) and length (``term_days``), tells when the window can lose it: the
renewals ``renewal_date + k * term_days`` inside it (one for an annual contract, about
twelve for a monthly one, assuming it renews on the same term).

The window is cut into intervals, one per renewal (interval k runs from just after
renewal k-1 to just after renewal k; a window with no renewal is one interval, to its
end). Between the last renewal and the window's end no contract ends, so no loss is
expected there. The model learns the *hazard* of each: the chance the
account is lost in interval k given that it was a customer at its start, from the
features at the cutoff and the interval's calendar, :data:`EXPOSURE_FEATURES`:

``exposure__lead_days``
    Days from the cutoff to the interval's renewal (how stale the features are then).
``exposure__renewal_index``
    k: 0 for the next renewal, 1 for the one after, ...
``exposure__term_days``
    The contract length the calendar assumes.

The window's risk is ``1 - prod_k (1 - hazard_k)``, and the next renewal's own risk is
``hazard_0``. Training rows are intervals whose outcome is known
(:func:`make_interval_rows`): censoring cuts an account's intervals at the data's end,
so the latest cutoffs still teach the model about their first renewals and no label is
read from past the data's end. Explanations split the window's logit over the
intervals by integrated gradients and each interval's over the features by TreeSHAP:
exact in sum (:func:`horizon_weights`); ``exposure__renewals`` (the number of
intervals) carries what the calendar alone does to the risk.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from healthscore.errors import DataError, ModelError

#: The calendar inputs of each interval (built here, never by the feature builder).
EXPOSURE_FEATURES = ("exposure__lead_days", "exposure__renewal_index", "exposure__term_days")
#: The interval's lead, which a hazard model's calibration also reads.
LEAD = EXPOSURE_FEATURES[0]
#: Intervals in the window: an account-level input of the explanation, not of the trees.
RENEWALS = "exposure__renewals"
#: What an account-level frame carries for :func:`expand_intervals`.
ACCOUNT_EXPOSURE = (*EXPOSURE_FEATURES, RENEWALS)

_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Horizon:
    """The outcome window of the served risk.

    Parameters
    ----------
    horizon_days : int
        Length of the window (``timeline.horizon_days``).
    lead_days : int
        Days from the cutoff to the window's start (``timeline.lead_time_days``).
    grace_days : int
        A successor starting this many days after an end is a renewal
        (``labels.grace_days``); a window is known once it ended this long ago.
    """

    horizon_days: int = 365
    lead_days: int = 0
    grace_days: int = 30

    def __post_init__(self) -> None:
        if self.horizon_days <= 0 or self.lead_days < 0 or self.grace_days < 0:
            raise ModelError(f"horizon: expected horizon_days > 0, lead_days >= 0 and "
                             f"grace_days >= 0, got {asdict(self)}")

    @classmethod
    def from_params(cls, timeline: Any, labels: Any) -> "Horizon":
        """From ``params.timeline`` and ``params.labels``."""
        return cls(int(timeline.horizon_days), int(timeline.lead_time_days), int(labels.grace_days))

    def describe(self) -> str:
        """``within 365 days`` (or ``within 365 days starting 30 days after the cutoff``)."""
        lead = f" starting {self.lead_days} days after the as-of date" if self.lead_days else ""
        return f"within {self.horizon_days} days{lead}"

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Horizon":
        expected = {"horizon_days", "lead_days", "grace_days"}
        if not isinstance(data, dict) or set(data) != expected:
            raise ModelError(f"horizon.json: expected keys {sorted(expected)}, got "
                             f"{sorted(data) if isinstance(data, dict) else type(data).__name__}")
        return cls(**{k: int(v) for k, v in data.items()})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Horizon":
        from healthscore.model.manifest import REEXPORT, read_model_json

        data = read_model_json(path)
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: expected whole numbers of days ({exc}); {REEXPORT}") from None


def horizon_for(timeline: Any, labels: Any) -> Horizon | None:
    """The served window of ``params.timeline`` / ``params.labels``: a :class:`Horizon`
    in horizon mode, None in renewal mode (a row is one renewal, its risk the row's)."""
    return Horizon.from_params(timeline, labels) if timeline.mode == "horizon" else None


def count_renewals(
    cutoff: Any, renewal_date: Any, term_days: Any, *, start_days: Any, window_days: Any
) -> np.ndarray:
    """Renewal dates ``renewal_date + k * term_days`` (k >= 0) in the window.

    Parameters
    ----------
    cutoff, renewal_date : array-like of datetime64, shape (n,)
    term_days : array-like of float, shape (n,)
        Contract length; NaN or under one day counts the first renewal only.
    start_days, window_days : scalar or array of float
        The window is ``[cutoff + start_days, cutoff + start_days + window_days)``.

    Returns
    -------
    ndarray of float64, shape (n,): 0 where ``renewal_date`` is missing.
    """
    t = pd.to_datetime(pd.Series(np.asarray(cutoff))).to_numpy("datetime64[us]")
    r = pd.to_datetime(pd.Series(np.asarray(renewal_date))).to_numpy("datetime64[us]")
    first = (r - t) / _DAY - np.asarray(start_days, dtype=np.float64)  # days from window start
    return _span(first, window_days, np.asarray(term_days, dtype=np.float64))[1]


def _span(first: np.ndarray, window_days: Any, term: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(k0, count)``: the index of the first renewal at or after the window's start
    and the renewals inside it, for a first renewal ``first`` days after the start."""
    length = np.broadcast_to(np.asarray(window_days, dtype=np.float64), first.shape)
    single = ~(term >= 1)
    safe = np.where(single, 1.0, term)
    k0 = np.where(single, 0.0, np.maximum(0.0, np.ceil(-first / safe)))
    k1 = np.ceil((length - first) / safe) - 1.0           # last one before the end
    inside = (first >= 0) & (first < length)
    count = np.where(single, inside.astype(np.float64), np.maximum(k1 - k0 + 1.0, 0.0))
    return np.nan_to_num(k0), np.where(np.isnan(first), 0.0, count)


def account_exposure(frame: pd.DataFrame, horizon: Horizon) -> pd.DataFrame:
    """``frame`` (``cutoff_time``, ``renewal_date``, ``term_days``) with the calendar of
    its window added (:data:`ACCOUNT_EXPOSURE`): the next renewal's lead and term, index
    0, and the number of intervals. What :func:`expand_intervals` reads."""
    _require(frame, ("cutoff_time", "renewal_date", "term_days"))
    t = frame["cutoff_time"].to_numpy("datetime64[us]")
    renewal = frame["renewal_date"].to_numpy("datetime64[us]")
    term = frame["term_days"].to_numpy(dtype=np.float64)
    lead = (renewal - t) / _DAY
    k0, count = _span(lead - horizon.lead_days, horizon.horizon_days, term)
    first = lead + np.where(term >= 1, k0 * term, 0.0)
    extra = pd.DataFrame({
        "exposure__lead_days": first,
        "exposure__renewal_index": np.zeros(len(frame)),
        "exposure__term_days": np.where(term >= 1, term, np.nan),
        RENEWALS: np.maximum(count, 1.0),
    }, index=frame.index)
    return frame.drop(columns=list(ACCOUNT_EXPOSURE), errors="ignore").join(extra)


#: The columns in which the intervals of one account differ (:func:`expand_intervals`).
INTERVAL_COLUMNS = ("exposure__lead_days", "exposure__renewal_index")


def expand_intervals(X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per interval of each account row of ``X`` (with :data:`ACCOUNT_EXPOSURE`).

    Returns
    -------
    rows : DataFrame
        ``X``'s columns repeated, interval k with ``exposure__lead_days`` advanced by
        k terms and ``exposure__renewal_index`` = k; default integer index.
    owner : ndarray of int64
        Position in ``X`` of each row (non-decreasing).
    """
    missing = [c for c in ACCOUNT_EXPOSURE if c not in X.columns]
    if missing:
        raise DataError(f"scoring frame: missing calendar column(s) {', '.join(missing)}; "
                        "add them with healthscore.model.exposure.account_exposure")
    count = X[RENEWALS].to_numpy(dtype=np.float64)
    if not np.isfinite(count).all() or (count < 1).any():
        raise DataError(f"scoring frame: {RENEWALS} must be a whole number >= 1")
    count = count.astype(np.int64)
    owner = np.repeat(np.arange(len(X)), count)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    rows = X.iloc[owner].reset_index(drop=True)
    term = rows["exposure__term_days"].to_numpy(dtype=np.float64)
    step = np.where(term >= 1, term, 0.0)
    rows["exposure__lead_days"] = rows["exposure__lead_days"].to_numpy(dtype=np.float64) + k * step
    rows["exposure__renewal_index"] = k.astype(np.float64)
    return rows, owner


def combine_hazards(hazard_logit: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """The window's logit of each of ``n`` accounts from its intervals' hazard logits:
    ``logit(1 - prod_k (1 - sigmoid(l_k)))``, computed in log space (stable)."""
    total = np.minimum(log_survival(hazard_logit, owner, n), -1e-300)
    # logit(1 - S) = log(1 - S) - log S, with log(1 - S) = log(-expm1(log S))
    return np.log(-np.expm1(total)) - total


def log_survival(hazard_logit: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """``log prod_k (1 - sigmoid(l_k))`` per account: the log chance of staying
    through every interval of the window."""
    log_stay = -np.logaddexp(0.0, np.asarray(hazard_logit, dtype=np.float64))  # log(1 - h)
    return np.bincount(owner, weights=log_stay, minlength=n)


#: Gauss-Legendre nodes on [0, 1] of the integrated-gradient weights.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)
_NODES, _WEIGHTS = (_NODES + 1.0) / 2.0, _WEIGHTS / 2.0


def horizon_weights(
    hazard_logit: np.ndarray, owner: np.ndarray, n: int, *, reference: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Integrated-gradient weights of each interval in its account's window logit.

    On the straight path from every interval at the ``reference`` logit (the model's
    base) to the actual ones, ``dL/dl_k = h_k / R`` (``R`` the window risk); its
    integral ``g_k`` makes ``sum_k g_k (l_k - reference)`` equal to ``L - L_ref``
    (up to quadrature error, which the caller carries exactly). ``L_ref`` is the
    window logit of an account with every interval at the reference: what its
    calendar alone gives.

    Returns
    -------
    g : ndarray (rows,)
    calendar_logit : ndarray (n,)
        ``L_ref`` per account.
    """
    logit = np.asarray(hazard_logit, dtype=np.float64)
    g = np.zeros(len(logit))
    for node, weight in zip(_NODES, _WEIGHTS):
        path = reference + node * (logit - reference)
        window = combine_hazards(path, owner, n)
        risk = 1.0 / (1.0 + np.exp(-window))
        hazard = 1.0 / (1.0 + np.exp(-path))
        g += weight * hazard / np.maximum(risk[owner], 1e-300)
    calendar = combine_hazards(np.broadcast_to(np.asarray(reference, dtype=np.float64), logit.shape),
                               owner, n)
    return g, calendar


def make_interval_rows(
    dataset: pd.DataFrame, *, horizon: Horizon, known_until: pd.Timestamp,
) -> pd.DataFrame:
    """The intervals of ``dataset``'s rows whose outcome is known at ``known_until``.

    Parameters
    ----------
    dataset : DataFrame
        Rows of a horizon-mode training set: ``cutoff_time``, ``renewal_date``,
        ``term_days``, ``lost_at`` (the loss the data shows, NaT if none) and features.
    horizon : Horizon
    known_until : Timestamp
        Outcomes are read only up to here (exclusive): an interval is used when it
        ended at least ``grace_days`` before. Earlier than the data's end, it replays
        what was known then.

    Returns
    -------
    DataFrame
        ``row`` (the position in ``dataset``), the dataset's columns, the calendar of
        the interval (:data:`ACCOUNT_EXPOSURE`) and ``label`` (int64): lost inside the
        interval, given a customer at its start. Intervals of an account after its
        loss, or not yet over, are left out.
    """
    _require(dataset, ("cutoff_time", "renewal_date", "term_days", "lost_at"))
    frame = account_exposure(dataset.reset_index(drop=True), horizon)
    rows, owner = expand_intervals(frame)
    t = rows["cutoff_time"].to_numpy("datetime64[us]")
    start = t + np.timedelta64(horizon.lead_days, "D")
    window_end = start + np.timedelta64(horizon.horizon_days, "D")
    k = rows["exposure__renewal_index"].to_numpy(dtype=np.int64)
    renewal_day = t + _days(rows["exposure__lead_days"].to_numpy(dtype=np.float64))
    previous_day = renewal_day - _days(np.nan_to_num(rows["exposure__term_days"].to_numpy(dtype=np.float64)))
    lo = np.where(k == 0, start, previous_day + _DAY)
    # An interval ends just after its renewal; a window without renewal is one interval.
    hi = np.where(renewal_day < window_end, renewal_day + _DAY, window_end)
    lost = rows["lost_at"].to_numpy("datetime64[us]")
    limit = np.datetime64(pd.Timestamp(known_until).as_unit("us")) - np.timedelta64(horizon.grace_days, "D")
    has = ~np.isnat(lost)
    at_risk = ~(has & (lost < lo)) & ~np.isnat(rows["renewal_date"].to_numpy("datetime64[us]"))
    known = hi <= limit
    keep = at_risk & known
    out = rows.loc[keep].copy()
    out["label"] = (has & (lost < hi))[keep].astype(np.int64)
    out.insert(0, "row", owner[keep])
    return out.reset_index(drop=True)


def _days(values: np.ndarray) -> np.ndarray:
    return np.round(np.nan_to_num(values) * 86_400_000_000).astype("timedelta64[us]")


def _require(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"horizon rows: missing column(s) {', '.join(missing)}; expected a "
                        "training set of build-dataset in horizon mode (timeline.mode: horizon)")


def window_risk(predict_hazard: Any, X: pd.DataFrame) -> np.ndarray:
    """The window's risk of each account row of ``X`` from a per-interval hazard
    predictor (``predict_hazard(rows) -> probabilities``): ``1 - prod_k (1 - h_k)``."""
    rows, owner = expand_intervals(X)
    hazard = np.clip(np.asarray(predict_hazard(rows), dtype=np.float64), 0.0, 1.0)
    log_survive = np.bincount(owner, weights=np.log1p(-np.minimum(hazard, 1 - 1e-15)),
                              minlength=len(X))
    return -np.expm1(log_survive)


def fit_hazard_calibration(margin: np.ndarray, lead_years: np.ndarray,
                           label: np.ndarray) -> tuple[float, float, float, float]:
    """Platt coefficients of interval hazards, fitted on the intervals' own outcomes.

    ``h_k = sigmoid((a + a_lead * lead_k) * margin_k + b + b_lead * lead_k)``, by
    maximum likelihood of each interval's outcome (``label``: lost in it, given a
    customer at its start). That is the discrete-time survival likelihood, so the
    window's ``1 - prod_k (1 - h_k)`` is exact for hazards that are right given
    survival to each interval; a fit of whole windows alone cannot tell where in the
    window the risk falls (it traded next month's renewal against the one a year away).
    The lead terms let a feature say less about a renewal a year away than about next
    month's.

    Returns
    -------
    (a, b, a_lead, b_lead) : tuple of float
    """
    from scipy.optimize import minimize

    m = np.asarray(margin, dtype=np.float64)
    lead = np.asarray(lead_years, dtype=np.float64)
    y = np.asarray(label, dtype=np.float64)
    design = np.column_stack([m, np.ones_like(m), m * lead, lead])

    def loss(theta):
        logit = design @ theta
        # -log-likelihood of Bernoulli outcomes: log(1 + e^l) - y * l
        value = (np.logaddexp(0.0, logit) - y * logit).sum()
        return value, (1.0 / (1.0 + np.exp(-logit)) - y) @ design

    fit = minimize(loss, np.array([1.0, 0.0, 0.0, 0.0]), jac=True, method="L-BFGS-B")
    a, b, a_lead, b_lead = (float(v) for v in fit.x)
    return a, b, a_lead, b_lead


#: Half-life, in months of cutoff age, of the weights of :func:`refit_hazard_level`.
LEVEL_HALF_LIFE_MONTHS = 6.0


def recency_weights(cutoffs: Any, *, half_life_months: float = LEVEL_HALF_LIFE_MONTHS) -> np.ndarray:
    """``0.5 ** (age / half_life)`` of each cutoff, the age in months before the latest one."""
    t = np.asarray(cutoffs, dtype="datetime64[us]")
    if t.size == 0:
        return np.zeros(0)
    age = (t.max() - t) / np.timedelta64(1, "D") / 30.4375
    return np.power(0.5, age / half_life_months)


def refit_hazard_level(logit: np.ndarray, label: np.ndarray, weight: np.ndarray) -> float:
    """The shift ``c`` of every interval's calibrated hazard logit that maximises the
    ``weight``-ed likelihood of the intervals' outcomes (Newton steps on one unknown).

    With recency weights it moves the calibration's level to that of the latest cutoffs,
    whose features are the most like a served date's, while the slope and lead terms
    keep what every cutoff taught; the interval likelihood uses the latest cutoffs'
    partial windows (only their early intervals are over) without bias.
    """
    l = np.asarray(logit, dtype=np.float64)
    y = np.asarray(label, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if not (w * y).sum() > 0 or not (w * (1 - y)).sum() > 0:
        return 0.0
    c = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(l + c)))
        step = float(w @ (y - p)) / max(float(w @ (p * (1 - p))), 1e-12)
        c += float(np.clip(step, -2.0, 2.0))
        if abs(step) < 1e-10:
            break
    return c
