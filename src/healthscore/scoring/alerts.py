"""Alerts: accounts whose health got worse since their previous scoring.

Three rules (``params.alerts``), each against the account's row of the previous as-of
date in the history:

* ``new_red``: red now, and not red before (an account scored for the first time
  counts when it is red: nobody has looked at it yet);
* ``band_drop``: a worse band than before (green -> yellow, green -> red,
  yellow -> red), the score down by at least ``band_drop_points``;
* ``score_drop``: the health score fell by at least ``drop_points`` (0 turns it off).

Nothing is raised on the first date ever scored: there is nothing to compare with.
Each alert carries its reasons: the changed behavioural signals that lowered the score
most (:func:`~healthscore.scoring.changes.change_reasons`). An alert is worth reading
only with such a reason, so (``require_reason``) a rule whose account has none (its
score moved by profile facts, unchanged values, "other changes" or a model change
only; or it was scored for the first time) raises nothing. And (``fold``) a band or
score drop whose leading reason the account's alert of the previous run already named
is the same story told again: folded into that alert, not raised. A new red is a new
state and always raised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from healthscore.config import AlertParams
from healthscore.data.schema import ALERT_COLUMNS
from healthscore.scoring.changes import reason_labels

_BAND_RANK = {"red": 0, "yellow": 1, "green": 2}

def make_alerts(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    reasons: pd.Series,
    params: AlertParams,
    *,
    previous_alerts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The alerts of one as-of date.

    Parameters
    ----------
    current : DataFrame
        ``account_id``, ``health_score``, ``band`` of the date scored.
    previous : DataFrame or None
        The same columns at the previous as-of date; None on the first date.
    reasons : Series
        Reason text indexed by ``account_id`` (:func:`~healthscore.scoring.changes.change_reasons`).
    params : AlertParams
    previous_alerts : DataFrame, optional
        The alerts of the previous run (columns :data:`ALERT_COLUMNS`), for folding.

    Returns
    -------
    DataFrame
        Columns :data:`ALERT_COLUMNS`, one row per alerted account, worst drop first;
        ``kind`` lists the rules raised (``new_red, band_drop, score_drop``),
        ``reason`` the changed drivers that lowered the score most.
    """
    if previous is None:
        return _empty(current)
    before = previous.set_index("account_id")
    ids = current["account_id"]
    prev_band = ids.map(before["band"]).astype("string")
    prev_score = ids.map(before["health_score"]).astype("Float64").astype("Int64")
    band = current["band"].astype("string")
    score = current["health_score"].astype("Int64")
    change = score - prev_score
    rank_now = band.map(_BAND_RANK)
    rank_before = prev_band.map(_BAND_RANK)
    seen = prev_band.notna().to_numpy()

    new_red = (band == "red").to_numpy(dtype=bool) & ~(prev_band == "red").fillna(False).to_numpy(dtype=bool)
    band_drop = seen & (rank_now.to_numpy(np.float64) < rank_before.to_numpy(np.float64, na_value=np.nan))
    fell = (-change).to_numpy(np.float64, na_value=np.nan)
    band_drop &= fell >= params.band_drop_points
    score_drop = seen & (params.drop_points > 0) & (fell >= params.drop_points)
    new_red &= params.new_red
    band_drop &= params.band_drop
    reason = ids.map(reasons).astype("string")
    if params.require_reason:
        named = reason.notna().to_numpy(dtype=bool)
        new_red, band_drop, score_drop = new_red & named, band_drop & named, score_drop & named
    if params.fold and previous_alerts is not None and not previous_alerts.empty:
        told = _told_before(ids, reason, previous_alerts)
        band_drop, score_drop = band_drop & ~told, score_drop & ~told
    fired = new_red | band_drop | score_drop
    if not fired.any():
        return _empty(current)

    out = pd.DataFrame({
        "account_id": ids.to_numpy(),
        "new_red": new_red, "band_drop": band_drop, "score_drop": score_drop,
        "previous_band": prev_band.to_numpy(), "band": band.to_numpy(),
        "previous_score": prev_score.to_numpy(), "health_score": score.to_numpy(),
        "score_change": change.to_numpy(),
    }).loc[fired]
    rules = ("new_red", "band_drop", "score_drop")
    flags = out.loc[:, list(rules)].to_numpy()
    out.insert(1, "kind", pd.array(
        [", ".join(r for r, on in zip(rules, row) if on) for row in flags], dtype="string"))
    out["previous_band"] = out["previous_band"].astype("string")
    out["band"] = out["band"].astype("string")
    for column in ("previous_score", "health_score", "score_change"):
        out[column] = out[column].astype("Int64")
    out["reason"] = pd.array(reason.to_numpy()[fired], dtype="string")
    return sort_alerts(out.loc[:, list(ALERT_COLUMNS)])


def _told_before(ids: pd.Series, reason: pd.Series, previous_alerts: pd.DataFrame) -> np.ndarray:
    """bool (n,): the account's leading reason was named by its alert of the previous run."""
    before = previous_alerts.drop_duplicates("account_id").set_index("account_id")["reason"]
    earlier = ids.map(before)
    return np.array([bool(now) and bool(then) and now[0] in then
                     for now, then in zip(map(reason_labels, reason), map(reason_labels, earlier))],
                    dtype=bool)


def sort_alerts(frame: pd.DataFrame) -> pd.DataFrame:
    """The alerts' order: the largest drop first, then the lowest score, then account id."""
    return frame.sort_values(["score_change", "health_score", "account_id"], kind="stable",
                             na_position="last").reset_index(drop=True)


def _empty(current: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({
        "account_id": pd.Series([], dtype=current["account_id"].dtype),
        "kind": pd.Series([], dtype="string"),
        "new_red": pd.Series([], dtype=bool),
        "band_drop": pd.Series([], dtype=bool),
        "score_drop": pd.Series([], dtype=bool),
        "previous_band": pd.Series([], dtype="string"),
        "band": pd.Series([], dtype="string"),
        "previous_score": pd.Series([], dtype="Int64"),
        "health_score": pd.Series([], dtype="Int64"),
        "score_change": pd.Series([], dtype="Int64"),
        "reason": pd.Series([], dtype="string"),
    })
    return frame
