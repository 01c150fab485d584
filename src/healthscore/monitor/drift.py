"""Drift of one scoring date against the training window, and the calibration of past
scores whose outcomes have matured.

* :func:`drift_table`: PSI of every feature of the reference and of the health score,
  from a date's stored points (the values as scored; whole, or part by part:
  :func:`feature_shares`) and its risk list; one row each.
* :func:`band_shift`: share of each band now and at training.
* :func:`matured_calibration`: the latest earlier risk list whose whole horizon has
  passed in the current data, against what happened (the backtest's outcomes and the
  evaluation's ECE and ROC-AUC), and per band predicted against observed churn.
* :func:`model_age_days`: days from the end of the training data to the as-of date.

Pure but for :func:`matured_calibration`, which reads the past risk lists it is given
a layout for.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from healthscore.model.scale import BANDS
from healthscore.monitor.psi import psi
from healthscore.monitor.reference import current_counts, current_shares

log = logging.getLogger(__name__)

#: The score's row in the drift table.
SCORE = "health_score"
DRIFT_COLUMNS = ("name", "label", "family", "kind", "psi", "level", "counted", "missing_reference",
                 "missing_now")


def level_of(value: float, monitor: Any) -> str:
    """``stable``, ``warn`` or ``alert`` of a PSI by ``params.monitor``; ``unknown`` for NaN."""
    if not np.isfinite(value):
        return "unknown"
    return "alert" if value >= monitor.psi_alert else "warn" if value >= monitor.psi_warn else "stable"


def feature_shares(points: pd.DataFrame | Iterable[pd.DataFrame],
                   reference: Mapping[str, Any]) -> dict[str, np.ndarray | None]:
    """Per reference feature, the shares of its bins over the rows of ``points`` (None:
    a feature the points lack).

    ``points`` is a date's points frame or the frames of its parts (a bucketed run's
    spooled buckets, read one at a time): each part's counts are summed and divided by
    the rows once, so the shares equal those of the whole frame to the last bit, and only
    one part's values are in memory at a time. A feature counts when every part has it.
    """
    parts = [points] if isinstance(points, pd.DataFrame) else points
    features = reference["features"]
    counts: dict[str, np.ndarray] | None = None
    rows = 0
    for part in parts:
        present = [n for n in features if n in part.columns and (counts is None or n in counts)]
        mine = {n: current_counts(part[n], features[n]) for n in present}
        counts = mine if counts is None else {n: counts[n] + mine[n] for n in present}
        rows += len(part)
    counts = counts or {}
    return {n: counts[n] / max(rows, 1) if n in counts else None for n in features}


def drift_table(points: pd.DataFrame | Iterable[pd.DataFrame], risk_list: pd.DataFrame,
                reference: Mapping[str, Any], *, catalogue: Mapping[str, Any],
                monitor: Any) -> pd.DataFrame:
    """PSI of each reference feature (values from ``points``: a frame or its parts,
    :func:`feature_shares`) and of the health score (from ``risk_list``), largest first,
    the score's row first.

    A feature the date's points lack (scored by another model) has PSI NaN, level
    ``unknown``. ``counted`` is False for the features ``monitor.expected_drift`` names
    (they grow with the book's age): reported, left out of the verdict.
    """
    from healthscore.scoring.drivers import profile_mask

    rows = []
    score = None if SCORE not in risk_list else current_shares(risk_list[SCORE], reference["score"])
    shares = feature_shares(points, reference)
    entries = [(SCORE, reference["score"], score)]
    entries += [(n, e, shares[n]) for n, e in reference["features"].items()]
    for name, entry, actual in entries:
        expected = np.asarray(entry["shares"], dtype=np.float64)
        if actual is None:
            value, missing_now = math.nan, math.nan
        else:
            value, missing_now = psi(expected, actual), float(actual[-1])
        info = catalogue.get(name) or {}
        rows.append({
            "name": name,
            "label": "Health score" if name == SCORE else str(info.get("label") or name),
            "family": "score" if name == SCORE else str(info.get("family") or "other"),
            "kind": entry["kind"], "psi": value, "level": level_of(value, monitor),
            "counted": name == SCORE or not profile_mask([name], monitor.expected_drift)[0],
            "missing_reference": float(expected[-1]), "missing_now": missing_now,
        })
    frame = pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))
    score, features = frame.iloc[:1], frame.iloc[1:]
    features = features.sort_values("psi", ascending=False, na_position="last", kind="stable")
    return pd.concat([score, features], ignore_index=True)


def band_shift(risk_list: pd.DataFrame, reference: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per band: ``reference`` (training window share), ``current`` and ``change``."""
    shares = risk_list["band"].value_counts(normalize=True) if len(risk_list) else pd.Series(dtype=float)
    out = {}
    for band in BANDS:
        before = float((reference.get("bands") or {}).get(band, math.nan))
        now = float(shares.get(band, 0.0))
        out[band] = {"reference": before, "current": now, "change": now - before}
    return out


def model_age_days(reference: Mapping[str, Any] | None, as_of: Any) -> float:
    """Days from the end of the model's training data to ``as_of`` (NaN: not recorded)."""
    until = (reference or {}).get("trained_until")
    if not until:
        return math.nan
    return float((pd.Timestamp(as_of) - pd.Timestamp(until)) / pd.Timedelta(days=1))


def matured_calibration(layout: Any, tables: Any, params: Any, *, horizon: Any,
                        as_of: Any) -> dict[str, Any]:
    """Calibration and ranking of the latest risk list, scored on or before ``as_of``,
    whose whole horizon lies inside ``tables`` (the current data).

    Returns ``{"status": "measured", "as_of", "accounts", "churned", "ece", "roc_auc",
    "bands": {band: {"rows", "predicted", "observed", "gap"}}}``, or ``{"status":
    "not measured", "reason": ...}`` when no past run has matured (or the model has no
    horizon: a renewal model's outcome dates differ per account).
    """
    from healthscore.backtest import last_as_of, outcomes_after
    from healthscore.model.evaluation import classification_metrics

    if horizon is None:
        return {"status": "not measured", "reason": "a renewal-mode model (no common horizon)"}
    if tables is None:
        return {"status": "not measured", "reason": "the data is bucketed; run `healthscore monitor`"}
    matured = last_as_of(tables, horizon)
    dates = [d for d in layout.dates() if d <= pd.Timestamp(as_of) and d <= matured]
    if not dates:
        return {"status": "not measured",
                "reason": f"no earlier run has matured yet (a run matures {horizon.horizon_days + horizon.grace_days + horizon.lead_days} "
                          f"days after its date; the data now matures runs up to {matured:%Y-%m-%d})"}
    when = dates[-1]
    risk = layout.read_table("risk_list", when)
    known = risk["account_id"].isin(tables.accounts["account_id"]) & \
        ~risk["account_id"].isin(list(tables.incomplete_accounts))
    risk = risk.loc[known].reset_index(drop=True)
    if risk.empty:
        return {"status": "not measured", "reason": f"no account of the {when:%Y-%m-%d} run is in the data"}
    y, _ = outcomes_after(tables, params, risk["account_id"].to_numpy(), when)
    p = risk["risk_proba"].to_numpy(np.float64)
    metrics = classification_metrics(y, p, n_bins=params.calibration.ece_bins)
    bands = {}
    for band in BANDS:
        mask = (risk["band"] == band).to_numpy()
        if mask.any():
            predicted, observed = float(p[mask].mean()), float(y[mask].mean())
            bands[band] = {"rows": int(mask.sum()), "predicted": predicted, "observed": observed,
                           "gap": observed - predicted}
    return {"status": "measured", "as_of": f"{when:%Y-%m-%d}", "accounts": int(len(y)),
            "churned": int(y.sum()), "ece": float(metrics["ece"]), "roc_auc": float(metrics["roc_auc"]),
            "bands": bands}
